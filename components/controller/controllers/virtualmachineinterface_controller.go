package controllers

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
	"github.com/kontrail/kontrail/components/controller/allocator"
)

// FinalizerMACDeallocation returns an interface's MAC to the pool before
// the interface goes.
const FinalizerMACDeallocation = "vmi-mac-deallocation.finalizers.core.juniper.net"

// VirtualMachineInterfaceReconciler gives every interface a unique MAC: the
// one it asks for when that is a free unicast MAC, else a new locally
// administered one.
type VirtualMachineInterfaceReconciler struct {
	client.Client
	State    *State
	Recorder events.EventRecorder
}

// +kubebuilder:rbac:groups=core.contrail.juniper.net,resources=virtualmachineinterfaces,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=core.contrail.juniper.net,resources=virtualmachineinterfaces/status,verbs=get;update;patch

// Reconcile allocates, persists and reports the interface's MAC.
func (r *VirtualMachineInterfaceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if err := r.State.Load(ctx, r.Client); err != nil {
		return ctrl.Result{}, err
	}
	vmi := &corev1alpha1.VirtualMachineInterface{}
	if err := r.Get(ctx, req.NamespacedName, vmi); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !vmi.DeletionTimestamp.IsZero() {
		r.State.MACs.Release(vmi.UID)
		return ctrl.Result{}, removeFinalizers(ctx, r.Client, vmi, FinalizerMACDeallocation)
	}
	before := deepCopy(vmi)
	name := "VirtualMachineInterface " + vmi.Namespace + "/" + vmi.Name

	var mac string
	requested := vmi.Spec.VirtualMachineInterfaceMacAddresses.MACAddress
	if len(requested) > 0 {
		mac = string(requested[0])
		err := r.State.MACs.Reserve(mac, vmi.UID)
		var taken *allocator.MACTakenError
		switch {
		case errors.As(err, &taken):
			return ctrl.Result{}, r.fail(ctx, vmi, before, ReasonMACTaken,
				fmt.Sprintf("requested MAC %s is taken by %s", taken.MAC, r.State.ownerName(taken.Owner)))
		case err != nil:
			return ctrl.Result{}, r.fail(ctx, vmi, before, ReasonInvalidMAC, fmt.Sprintf("requested MAC: %v", err))
		}
	} else {
		var err error
		if mac, err = r.State.MACs.Allocate(vmi.UID); err != nil {
			return ctrl.Result{}, r.fail(ctx, vmi, before, ReasonPoolExhausted, fmt.Sprintf("no MAC left to allocate: %v", err))
		}
	}
	r.State.nameOwner(vmi.UID, name)

	// The MAC, the record of its allocation and the finalizer that returns
	// it, in one write.
	if vmi.Annotations[AnnotationAllocated] != mac || len(requested) == 0 || !controllerutil.ContainsFinalizer(vmi, FinalizerMACDeallocation) {
		if vmi.Annotations == nil {
			vmi.Annotations = map[string]string{}
		}
		vmi.Annotations[AnnotationAllocated] = mac
		controllerutil.AddFinalizer(vmi, FinalizerMACDeallocation)
		vmi.Spec.VirtualMachineInterfaceMacAddresses.MACAddress = []corev1alpha1.MACAddress{corev1alpha1.MACAddress(mac)}
		if err := r.Patch(ctx, vmi, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
			if apierrors.IsNotFound(err) {
				r.State.MACs.Release(vmi.UID)
				return ctrl.Result{}, nil
			}
			return ctrl.Result{}, fmt.Errorf("failed to record MAC %s on %s: %w", mac, name, err)
		}
		before = deepCopy(vmi)
	}
	setState(&vmi.Status.CommonStatus, vmi.Generation, corev1alpha1.StateSuccess, ReasonReady, "")
	return ctrl.Result{}, patchStatus(ctx, r.Client, vmi, before)
}

// fail reports a problem on the interface, once as an event; it holds no
// MAC while it fails.
func (r *VirtualMachineInterfaceReconciler) fail(ctx context.Context, vmi, before *corev1alpha1.VirtualMachineInterface, reason, problem string) error {
	r.State.MACs.Release(vmi.UID)
	if before.Status.Observation != problem {
		r.Recorder.Eventf(vmi, nil, "Warning", reason, "AllocateMAC", problem)
	}
	setState(&vmi.Status.CommonStatus, vmi.Generation, corev1alpha1.StateFailure, reason, problem)
	return patchStatus(ctx, r.Client, vmi, before)
}

// SetupWithManager watches interfaces.
func (r *VirtualMachineInterfaceReconciler) SetupWithManager(mgr ctrl.Manager, workers int) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&corev1alpha1.VirtualMachineInterface{}).
		WithOptions(controllerOptions(workers)).
		Named("virtualmachineinterface").
		Complete(r)
}
