package controllers

import (
	"context"
	"fmt"

	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
)

// FinalizerSubnetPool keeps a Subnet while addresses are allocated from it.
const FinalizerSubnetPool = "subnet-pool.finalizers.core.juniper.net"

// SubnetReconciler keeps every Subnet's pool and its usage in status.
type SubnetReconciler struct {
	client.Client
	State    *State
	Recorder events.EventRecorder
}

// +kubebuilder:rbac:groups=core.contrail.juniper.net,resources=subnets,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=core.contrail.juniper.net,resources=subnets/status,verbs=get;update;patch

// Reconcile reports the subnet's usage; a deleted subnet goes once no
// address of it is allocated.
func (r *SubnetReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if err := r.State.Load(ctx, r.Client); err != nil {
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
			return ctrl.Result{}, patchStatus(ctx, r.Client, sn, before)
		}
		r.State.ForgetSubnet(sn.UID)
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
	sn.Status.IPCount = int64(pool.Used())
	sn.Status.AllocationUsage = pool.Usage()
	setState(&sn.Status.CommonStatus, sn.Generation, corev1alpha1.StateSuccess, ReasonReady, "")
	return ctrl.Result{}, patchStatus(ctx, r.Client, sn, before)
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
