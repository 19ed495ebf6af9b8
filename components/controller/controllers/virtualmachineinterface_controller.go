package controllers

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
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

// Reconcile allocates, persists and reports the interface's MAC.
func (r *VirtualMachineInterfaceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if err := r.State.Load(ctx); err != nil {
		return ctrl.Result{}, err
	}
	vmi := &corev1alpha1.VirtualMachineInterface{}
	if err := r.Get(ctx, req.NamespacedName, vmi); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !vmi.DeletionTimestamp.IsZero() {
		var recorded []string
		if mac := vmi.Annotations[AnnotationAllocated]; mac != "" {
			recorded = append(recorded, corev1alpha1.MACAllocationName(mac))
		}
		if err := r.State.locks.releaseHolder(ctx, vmi.UID, recorded...); err != nil {
			return ctrl.Result{}, err
		}
		r.State.MACs.Release(vmi.UID)
		return ctrl.Result{}, removeFinalizers(ctx, r.Client, vmi, FinalizerMACDeallocation)
	}
	before := deepCopy(vmi)
	name := "VirtualMachineInterface " + vmi.Namespace + "/" + vmi.Name

	// claim makes the MAC's Allocation for the interface; another holder
	// is learnt, and returned.
	claim := func(mac string) (*corev1alpha1.ResourceReference, error) {
		other, err := r.State.locks.claim(ctx, corev1alpha1.MACAllocationName(mac), corev1alpha1.AllocationSpec{
			Type: corev1alpha1.AllocationMAC, Value: mac, HolderReference: holderOf(vmi, "VirtualMachineInterface")})
		if err != nil || other != nil {
			r.State.MACs.Release(vmi.UID)
		}
		if other != nil {
			r.State.learn(func(uid types.UID) error { return r.State.MACs.Reserve(mac, uid) }, other)
		}
		return other, err
	}

	var mac string
	requested := vmi.Spec.VirtualMachineInterfaceMacAddresses.MACAddress
	switch {
	case len(requested) > 0 && vmi.Annotations[AnnotationAllocated] == string(requested[0]):
		// It holds the MAC (recorded): it stays its own until it is
		// deleted, whatever else claims it; a second holder is said.
		mac = string(requested[0])
		problem := ""
		var taken *allocator.MACTakenError
		if err := r.State.MACs.Reserve(mac, vmi.UID); errors.As(err, &taken) {
			problem = fmt.Sprintf("MAC %s is also held by %s", mac, r.State.ownerName(taken.Owner))
		}
		other, err := r.State.locks.claim(ctx, corev1alpha1.MACAllocationName(mac), corev1alpha1.AllocationSpec{
			Type: corev1alpha1.AllocationMAC, Value: mac, HolderReference: holderOf(vmi, "VirtualMachineInterface")})
		if err != nil {
			return ctrl.Result{}, err
		}
		if other != nil {
			problem = fmt.Sprintf("MAC %s is also held by %s %s", mac, other.Kind, qualified(other.Namespace, other.Name))
		}
		if problem != "" && before.Status.Observation != problem {
			r.Recorder.Eventf(vmi, nil, "Warning", ReasonMACTaken, "KeepMAC", problem)
		}
		r.State.nameOwner(vmi.UID, name)
		setState(&vmi.Status.CommonStatus, vmi.Generation, corev1alpha1.StateSuccess, ReasonReady, problem)
		return ctrl.Result{}, client.IgnoreNotFound(writeObject(ctx, r.Client, vmi, before, false))
	case len(requested) > 0:
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
		other, err := claim(mac)
		if err != nil {
			return ctrl.Result{}, err
		}
		if other != nil {
			return ctrl.Result{}, r.fail(ctx, vmi, before, ReasonMACTaken,
				fmt.Sprintf("requested MAC %s is taken by %s", mac, r.State.ownerName(other.UID)))
		}
	default:
		claimed := false
		for range maxClaims {
			var err error
			if mac, err = r.State.MACs.Allocate(vmi.UID); err != nil {
				return ctrl.Result{}, r.fail(ctx, vmi, before, ReasonPoolExhausted, fmt.Sprintf("no MAC left to allocate: %v", err))
			}
			other, err := claim(mac)
			if err != nil {
				return ctrl.Result{}, err
			}
			if claimed = other == nil; claimed {
				break
			}
		}
		if !claimed {
			return ctrl.Result{}, fmt.Errorf("%d MACs in a row were held by other objects than the pool knew: trying again", maxClaims)
		}
	}
	r.State.nameOwner(vmi.UID, name)

	// The MAC, the record of its allocation, the finalizer that returns it
	// and the status, in one write.
	if vmi.Annotations == nil {
		vmi.Annotations = map[string]string{}
	}
	vmi.Annotations[AnnotationAllocated] = mac
	controllerutil.AddFinalizer(vmi, FinalizerMACDeallocation)
	vmi.Spec.VirtualMachineInterfaceMacAddresses.MACAddress = []corev1alpha1.MACAddress{corev1alpha1.MACAddress(mac)}
	corev1alpha1.DefaultVirtualMachineInterface(vmi) // admission skips the controller's writes of this kind
	setState(&vmi.Status.CommonStatus, vmi.Generation, corev1alpha1.StateSuccess, ReasonReady, "")
	if err := writeObject(ctx, r.Client, vmi, before, true); err != nil {
		if apierrors.IsNotFound(err) {
			r.State.MACs.Release(vmi.UID)
			return ctrl.Result{}, r.State.locks.releaseHolder(ctx, vmi.UID)
		}
		return ctrl.Result{}, fmt.Errorf("failed to record MAC %s on %s: %w", mac, name, err)
	}
	return ctrl.Result{}, nil
}

// fail reports a problem on the interface, once as an event; it holds no
// MAC while it fails.
func (r *VirtualMachineInterfaceReconciler) fail(ctx context.Context, vmi, before *corev1alpha1.VirtualMachineInterface, reason, problem string) error {
	r.State.MACs.Release(vmi.UID)
	if before.Status.Observation != problem {
		r.Recorder.Eventf(vmi, nil, "Warning", reason, "AllocateMAC", problem)
	}
	setState(&vmi.Status.CommonStatus, vmi.Generation, corev1alpha1.StateFailure, reason, problem)
	return client.IgnoreNotFound(writeObject(ctx, r.Client, vmi, before, false))
}

// SetupWithManager watches interfaces.
func (r *VirtualMachineInterfaceReconciler) SetupWithManager(mgr ctrl.Manager, workers int) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&corev1alpha1.VirtualMachineInterface{}).
		WithOptions(controllerOptions(workers)).
		Named("virtualmachineinterface").
		Complete(r)
}
