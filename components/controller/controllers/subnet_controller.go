package controllers

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"

	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
)

// FinalizerSubnetPool keeps a Subnet while addresses are allocated from it.
const FinalizerSubnetPool = "subnet-pool.finalizers.core.juniper.net"

// usageInterval is the least time between two writes of a Subnet's usage
// alone. Every address allocated or freed changes it: under a burst,
// writing it each time cost as many Subnet writes as address writes; a
// reader sees the usage at most this much late.
const usageInterval = time.Second

// SubnetReconciler keeps every Subnet's pool and its usage in status.
type SubnetReconciler struct {
	client.Client
	State    *State
	Recorder events.EventRecorder

	// usageWritten is when each Subnet's (by UID) usage was last written.
	usageWritten sync.Map
}

// +kubebuilder:rbac:groups=core.contrail.juniper.net,resources=subnets,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=core.contrail.juniper.net,resources=subnets/status,verbs=get;update;patch

// inUseRecheck is how often a deleted Subnet still in use is looked at.
const inUseRecheck = 5 * time.Second

// Reconcile reports the subnet's usage; a deleted subnet goes once no
// address of it is allocated.
func (r *SubnetReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if err := r.State.Load(ctx); err != nil {
		return ctrl.Result{}, err
	}
	sn := &corev1alpha1.Subnet{}
	if err := r.Get(ctx, req.NamespacedName, sn); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := deepCopy(sn)
	if !sn.DeletionTimestamp.IsZero() {
		if pool, ok := r.State.existingSubnetPool(sn.UID); ok && pool.InUse() > 0 {
			msg := fmt.Sprintf("deleted, but %d addresses are still allocated from it: it goes when they do", pool.InUse())
			setState(&sn.Status.CommonStatus, sn.Generation, corev1alpha1.StatePending, ReasonInUse, msg)
			// Looked at again: an address is also freed without any event
			// of the Subnet's (the allocation repair deleting an Allocation
			// whose InstanceIP went before its finalizer came), and a
			// deleted Subnet must not wait for one forever.
			return ctrl.Result{RequeueAfter: inUseRecheck}, patchStatus(ctx, r.Client, sn, before)
		}
		r.State.ForgetSubnet(sn.UID)
		r.usageWritten.Delete(sn.UID)
		return ctrl.Result{}, removeFinalizers(ctx, r.Client, sn, FinalizerSubnetPool)
	}
	if err := addFinalizers(ctx, r.Client, sn, FinalizerSubnetPool); err != nil {
		return ctrl.Result{}, err
	}
	before = deepCopy(sn)
	pool, err := r.State.SubnetPool(sn)
	if err != nil {
		setState(&sn.Status.CommonStatus, sn.Generation, corev1alpha1.StateFailure, "InvalidSubnet", err.Error())
		r.Recorder.Eventf(sn, nil, "Warning", "InvalidSubnet", "MakePool", err.Error())
		return ctrl.Result{}, patchStatus(ctx, r.Client, sn, before)
	}
	setState(&sn.Status.CommonStatus, sn.Generation, corev1alpha1.StateSuccess, ReasonReady, "")
	onlyUsage := equality.Semantic.DeepEqual(before.Status, sn.Status)
	sn.Status.IPCount = int64(pool.Used())
	sn.Status.AllocationUsage = pool.Usage()
	if equality.Semantic.DeepEqual(before.Status, sn.Status) {
		return ctrl.Result{}, nil
	}
	if onlyUsage {
		if last, ok := r.usageWritten.Load(sn.UID); ok {
			if wait := usageInterval - time.Since(last.(time.Time)); wait > 0 {
				return ctrl.Result{RequeueAfter: wait}, nil
			}
		}
	}
	if err := patchStatus(ctx, r.Client, sn, before); err != nil {
		return ctrl.Result{}, err
	}
	r.usageWritten.Store(sn.UID, time.Now())
	return ctrl.Result{}, nil
}

// SetupWithManager watches subnets and the addresses allocated from them.
func (r *SubnetReconciler) SetupWithManager(mgr ctrl.Manager, workers int) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&corev1alpha1.Subnet{}).
		Watches(&corev1alpha1.InstanceIP{}, handler.EnqueueRequestsFromMapFunc(subnetOfInstanceIP)).
		WithOptions(controllerOptions(workers)).
		Named("subnet").
		Complete(r)
}

// subnetOfInstanceIP maps an InstanceIP to the Subnet its address came from.
func subnetOfInstanceIP(_ context.Context, obj client.Object) []ctrl.Request {
	subnet, _, ok := parseAllocatedAddress(obj.GetAnnotations()[AnnotationAllocated])
	if !ok {
		return nil
	}
	return []ctrl.Request{{NamespacedName: subnet}}
}
