package controllers

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/source"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
	"github.com/kontrail/kontrail/components/controller/allocator"
)

// FinalizerInstanceIP returns an InstanceIP's address to its subnet before
// the InstanceIP goes.
const FinalizerInstanceIP = "instance-ip-address-deallocation.finalizers.core.juniper.net"

// InstanceIPReconciler allocates every InstanceIP's address from its
// network's subnet of its family, or checks the static one it asks for.
type InstanceIPReconciler struct {
	client.Client
	State    *State
	Recorder events.EventRecorder

	// retry carries InstanceIPs that failed for want of an address back to
	// the queue when an address of their network is freed.
	retry chan event.GenericEvent
}

// +kubebuilder:rbac:groups=core.contrail.juniper.net,resources=instanceips,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=core.contrail.juniper.net,resources=virtualnetworks;subnets,verbs=get;list;watch

// Reconcile allocates, persists and reports the InstanceIP's address.
func (r *InstanceIPReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if err := r.State.Load(ctx); err != nil {
		return ctrl.Result{}, err
	}
	iip := &corev1alpha1.InstanceIP{}
	if err := r.Get(ctx, req.NamespacedName, iip); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !iip.DeletionTimestamp.IsZero() {
		// The Allocation goes first: a crash before the finalizer is
		// removed finds it gone and goes on.
		var recorded []string
		if subnet, addr, ok := r.holds(iip); ok {
			recorded = append(recorded, corev1alpha1.AddressAllocationName(subnet.Namespace, subnet.Name, addr))
		}
		if err := r.State.locks.releaseHolder(ctx, iip.UID, recorded...); err != nil {
			return ctrl.Result{}, err
		}
		if _, released := r.State.ReleaseAddress(iip.UID); released {
			r.retryWaiting(ctx, iip)
		}
		return ctrl.Result{}, removeFinalizers(ctx, r.Client, iip, FinalizerInstanceIP)
	}
	before := deepCopy(iip)
	network := iip.Spec.VirtualNetworkReference.Namespace + "/" + iip.Spec.VirtualNetworkReference.Name

	// An address, once recorded, is the InstanceIP's until it is deleted:
	// a network or Subnet missing, recreated or held for deletion never
	// takes it back (its pod may run with it).
	if subnet, addr, ok := r.holds(iip); ok {
		return ctrl.Result{}, r.keep(ctx, iip, before, network, subnet, addr)
	}

	sn, reason, problem, err := r.subnetOf(ctx, iip)
	if err != nil {
		return ctrl.Result{}, err
	}
	if problem != "" {
		return ctrl.Result{}, r.fail(ctx, iip, before, reason, problem)
	}
	pool, err := r.State.SubnetPool(sn)
	if err != nil {
		return ctrl.Result{}, r.fail(ctx, iip, before, ReasonSubnetNotFound, err.Error())
	}

	addr, reason, problem, err := r.allocate(ctx, iip, sn, pool)
	if err != nil {
		return ctrl.Result{}, err
	}
	if problem != "" {
		return ctrl.Result{}, r.fail(ctx, iip, before, reason, problem)
	}
	r.State.nameOwner(iip.UID, "InstanceIP "+iip.Name)

	// Persist the address, the record of its allocation, the finalizer
	// that returns it and the status in one write: a restarted controller
	// reserves exactly what objects record, and an InstanceIP that holds
	// nothing needs no finalizer.
	if iip.Annotations == nil {
		iip.Annotations = map[string]string{}
	}
	iip.Annotations[AnnotationAllocated] = allocatedAddress(sn, addr)
	iip.Spec.InstanceIPAddress = addr.String()
	controllerutil.AddFinalizer(iip, FinalizerInstanceIP)
	corev1alpha1.DefaultInstanceIP(iip) // admission skips the controller's writes of this kind
	iip.Status.SubnetReference = &corev1alpha1.ResourceReference{
		APIVersion: corev1alpha1.GroupVersion.String(), Kind: "Subnet", Namespace: sn.Namespace, Name: sn.Name, UID: sn.UID,
	}
	iip.Status.Network = network
	setState(&iip.Status.CommonStatus, iip.Generation, corev1alpha1.StateSuccess, ReasonReady, "")
	if err := writeObject(ctx, r.Client, iip, before, true); err != nil {
		if apierrors.IsNotFound(err) {
			r.State.ReleaseAddress(iip.UID)
			return ctrl.Result{}, r.State.locks.releaseHolder(ctx, iip.UID)
		}
		// Keep the reservation: the retry finds it held by this owner.
		return ctrl.Result{}, fmt.Errorf("failed to record address %s on InstanceIP %s: %w", addr, iip.Name, err)
	}
	return ctrl.Result{}, nil
}

// holds reads the address the InstanceIP holds from its allocation
// record: the record and the address were written in one update.
func (r *InstanceIPReconciler) holds(iip *corev1alpha1.InstanceIP) (types.NamespacedName, netip.Addr, bool) {
	subnet, addr, ok := parseAllocatedAddress(iip.Annotations[AnnotationAllocated])
	if !ok || addr.String() != iip.Spec.InstanceIPAddress {
		return types.NamespacedName{}, netip.Addr{}, false
	}
	return subnet, addr, true
}

// keep keeps the address an InstanceIP holds reserved in its Subnet's
// pool and reports it. The Subnet is found by name: one made again (after
// a deletion held until its addresses went, or by hand) gets the
// addresses of its name back. A Subnet that is gone, or an address that
// another object holds in the pool (which the pool's rebuild reports),
// is said on the InstanceIP; its address stays its own either way.
func (r *InstanceIPReconciler) keep(ctx context.Context, iip, before *corev1alpha1.InstanceIP, network string, subnet types.NamespacedName, addr netip.Addr) error {
	sn := &corev1alpha1.Subnet{}
	observation := ""
	if err := r.Get(ctx, subnet, sn); err != nil {
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("failed to get Subnet %s: %w", subnet, err)
		}
		observation = fmt.Sprintf("Subnet %s is gone: the address stays this InstanceIP's until it is deleted", subnet)
	} else if pool, err := r.State.SubnetPool(sn); err != nil {
		observation = err.Error()
	} else {
		if held, ok := pool.Held(iip.UID); !ok || held != addr {
			var taken *allocator.AddressTakenError
			if err := pool.Reserve(addr, iip.UID); errors.As(err, &taken) {
				observation = fmt.Sprintf("address %s is also held by %s", addr, r.State.ownerName(taken.Owner))
			} else if err != nil {
				observation = fmt.Sprintf("address %s does not fit Subnet %s (%s) any more: %v", addr, subnet, sn.Spec.CIDR, err)
			}
		}
		// Its Allocation: made by an earlier version, lost, or ours already.
		other, err := r.State.locks.claim(ctx, corev1alpha1.AddressAllocationName(subnet.Namespace, subnet.Name, addr),
			addressAllocation(subnet, addr.String(), iip))
		if err != nil {
			return err
		}
		if other != nil {
			observation = fmt.Sprintf("address %s is also held by %s %s", addr, other.Kind, qualified(other.Namespace, other.Name))
		}
		if observation != "" && before.Status.Observation != observation {
			r.Recorder.Eventf(iip, nil, "Warning", ReasonAddressTaken, "KeepAddress", observation)
		}
	}
	r.State.nameOwner(iip.UID, "InstanceIP "+iip.Name)
	if sn.UID != "" {
		iip.Status.SubnetReference = &corev1alpha1.ResourceReference{
			APIVersion: corev1alpha1.GroupVersion.String(), Kind: "Subnet", Namespace: sn.Namespace, Name: sn.Name, UID: sn.UID,
		}
	}
	iip.Status.Network = network
	setState(&iip.Status.CommonStatus, iip.Generation, corev1alpha1.StateSuccess, ReasonReady, observation)
	return client.IgnoreNotFound(writeObject(ctx, r.Client, iip, before, false))
}

// subnetOf finds the Subnet of the InstanceIP's family in its network; a
// missing network or subnet is a problem to report, not an error.
func (r *InstanceIPReconciler) subnetOf(ctx context.Context, iip *corev1alpha1.InstanceIP) (*corev1alpha1.Subnet, string, string, error) {
	ref := iip.Spec.VirtualNetworkReference
	vn := &corev1alpha1.VirtualNetwork{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, vn); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, ReasonNetworkNotFound, fmt.Sprintf("VirtualNetwork %s/%s not found", ref.Namespace, ref.Name), nil
		}
		return nil, "", "", fmt.Errorf("failed to get VirtualNetwork %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	snRef := vn.Spec.V4SubnetReference
	if iip.Spec.InstanceIPFamily == corev1alpha1.IPFamilyV6 {
		snRef = vn.Spec.V6SubnetReference
	}
	if snRef == nil {
		return nil, ReasonNoSubnet, fmt.Sprintf("VirtualNetwork %s/%s has no %s subnet", vn.Namespace, vn.Name, iip.Spec.InstanceIPFamily), nil
	}
	sn := &corev1alpha1.Subnet{}
	key := subnetKey(snRef, vn.Namespace)
	if err := r.Get(ctx, key, sn); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, ReasonSubnetNotFound, fmt.Sprintf("Subnet %s of VirtualNetwork %s not found", key, vn.Name), nil
		}
		return nil, "", "", fmt.Errorf("failed to get Subnet %s: %w", key, err)
	}
	if !sn.DeletionTimestamp.IsZero() {
		return nil, ReasonSubnetNotFound, fmt.Sprintf("Subnet %s/%s is being deleted", sn.Namespace, sn.Name), nil
	}
	return sn, "", "", nil
}

// maxClaims bounds how many candidates one allocation proposes: each one
// refused is learnt (held by another object), so a pool that lags the
// apiserver by more than this many values fails the reconcile, and the
// retry goes on from there.
const maxClaims = 64

// allocate gives the InstanceIP the requested address, or a free one: the
// pool proposes it, and it is the InstanceIP's once its Allocation is
// created for it.
func (r *InstanceIPReconciler) allocate(ctx context.Context, iip *corev1alpha1.InstanceIP, sn *corev1alpha1.Subnet, pool *allocator.SubnetPool) (netip.Addr, string, string, error) {
	subnet := client.ObjectKeyFromObject(sn)
	claim := func(addr netip.Addr) (*corev1alpha1.ResourceReference, error) {
		other, err := r.State.locks.claim(ctx, corev1alpha1.AddressAllocationName(sn.Namespace, sn.Name, addr),
			addressAllocation(subnet, addr.String(), iip))
		if err != nil || other != nil {
			pool.Release(iip.UID)
		}
		if other != nil {
			r.State.learn(func(uid types.UID) error { return pool.Reserve(addr, uid) }, other)
		}
		return other, err
	}
	if text := iip.Spec.InstanceIPAddress; text != "" {
		addr, err := netip.ParseAddr(text)
		if err != nil {
			return addr, ReasonAddressOutside, fmt.Sprintf("requested address %q is not an IP address", text), nil
		}
		err = pool.Reserve(addr, iip.UID)
		var taken *allocator.AddressTakenError
		switch {
		case errors.As(err, &taken):
			return addr, ReasonAddressTaken, fmt.Sprintf("requested address %s is taken by %s", addr, r.State.ownerName(taken.Owner)), nil
		case err != nil:
			return addr, ReasonAddressOutside, fmt.Sprintf("requested address %s cannot be allocated from Subnet %s/%s (%s): %v",
				addr, sn.Namespace, sn.Name, sn.Spec.CIDR, err), nil
		}
		other, err := claim(addr)
		if err != nil {
			return addr, "", "", err
		}
		if other != nil {
			return addr, ReasonAddressTaken, fmt.Sprintf("requested address %s is taken by %s", addr, r.State.ownerName(other.UID)), nil
		}
		return addr, "", "", nil
	}
	for range maxClaims {
		addr, err := pool.Allocate(iip.UID)
		if err != nil {
			return addr, ReasonSubnetExhausted, fmt.Sprintf("Subnet %s/%s (%s) is exhausted: all %d of its addresses are in use; this InstanceIP gets one when one is freed",
				sn.Namespace, sn.Name, sn.Spec.CIDR, pool.Used()), nil
		}
		other, err := claim(addr)
		if err != nil {
			return addr, "", "", err
		}
		if other == nil {
			return addr, "", "", nil
		}
	}
	return netip.Addr{}, "", "", fmt.Errorf("%d addresses of Subnet %s in a row were held by other objects than the pool knew: trying again", maxClaims, subnet)
}

// fail reports a problem on the InstanceIP, once as an event; it holds no
// address while it fails.
func (r *InstanceIPReconciler) fail(ctx context.Context, iip, before *corev1alpha1.InstanceIP, reason, problem string) error {
	r.State.ReleaseAddress(iip.UID)
	if before.Status.Observation != problem {
		r.Recorder.Eventf(iip, nil, "Warning", reason, "AllocateAddress", problem)
	}
	setState(&iip.Status.CommonStatus, iip.Generation, corev1alpha1.StateFailure, reason, problem)
	return client.IgnoreNotFound(writeObject(ctx, r.Client, iip, before, false))
}

// retryWaiting requeues the InstanceIPs of the same network that failed.
func (r *InstanceIPReconciler) retryWaiting(ctx context.Context, freed *corev1alpha1.InstanceIP) {
	var iips corev1alpha1.InstanceIPList
	key := freed.Spec.VirtualNetworkReference.Namespace + "/" + freed.Spec.VirtualNetworkReference.Name
	if err := r.List(ctx, &iips, client.MatchingFields{indexInstanceIPNetwork: key}); err != nil {
		return
	}
	for i := range iips.Items {
		if iips.Items[i].Status.State == corev1alpha1.StateFailure {
			select {
			case r.retry <- event.GenericEvent{Object: &iips.Items[i]}:
			case <-ctx.Done():
				return
			}
		}
	}
}

// SetupWithManager watches InstanceIPs, and the networks and subnets they
// wait for.
func (r *InstanceIPReconciler) SetupWithManager(mgr ctrl.Manager, workers int) error {
	r.retry = make(chan event.GenericEvent, 1024)
	return ctrl.NewControllerManagedBy(mgr).
		For(&corev1alpha1.InstanceIP{}).
		Watches(&corev1alpha1.VirtualNetwork{}, handler.EnqueueRequestsFromMapFunc(r.instanceIPsOfNetwork)).
		Watches(&corev1alpha1.Subnet{}, handler.EnqueueRequestsFromMapFunc(r.instanceIPsOfSubnet)).
		WatchesRawSource(source.Channel(r.retry, &handler.EnqueueRequestForObject{})).
		WithOptions(controllerOptions(workers)).
		Named("instanceip").
		Complete(r)
}

// instanceIPsOfNetwork maps a network to the InstanceIPs that are not yet
// allocated (a network that appears or changes may let them succeed).
func (r *InstanceIPReconciler) instanceIPsOfNetwork(ctx context.Context, obj client.Object) []ctrl.Request {
	var iips corev1alpha1.InstanceIPList
	if err := r.List(ctx, &iips, client.MatchingFields{indexInstanceIPNetwork: obj.GetNamespace() + "/" + obj.GetName()}); err != nil {
		return nil
	}
	var reqs []ctrl.Request
	for _, iip := range iips.Items {
		if iip.Status.State != corev1alpha1.StateSuccess {
			reqs = append(reqs, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&iip)})
		}
	}
	return reqs
}

// instanceIPsOfSubnet maps a Subnet to the waiting InstanceIPs of the
// networks that reference it.
func (r *InstanceIPReconciler) instanceIPsOfSubnet(ctx context.Context, obj client.Object) []ctrl.Request {
	var vns corev1alpha1.VirtualNetworkList
	if err := r.List(ctx, &vns, client.MatchingFields{indexVNSubnets: obj.GetNamespace() + "/" + obj.GetName()}); err != nil {
		return nil
	}
	var reqs []ctrl.Request
	for i := range vns.Items {
		reqs = append(reqs, r.instanceIPsOfNetwork(ctx, &vns.Items[i])...)
	}
	return reqs
}
