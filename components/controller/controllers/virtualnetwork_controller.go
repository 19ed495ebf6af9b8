package controllers

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
)

// The finalizers CN2 puts on a VirtualNetwork: the VNI goes back to the
// pool, and the routing instance and its route targets go, before the
// network does.
const (
	FinalizerVNIDeallocation         = "virtual-network-id-deallocation.finalizers.core.juniper.net"
	FinalizerRouteTarget             = "route-target.finalizers.core.juniper.net"
	FinalizerRoutingInstanceDeletion = "vn-routinginstance-delete.finalizers.core.juniper.net"
)

var virtualNetworkFinalizers = []string{FinalizerVNIDeallocation, FinalizerRouteTarget, FinalizerRoutingInstanceDeletion}

// VirtualNetworkReconciler gives every VirtualNetwork its VNI, its
// RouteTargets and its default RoutingInstance.
type VirtualNetworkReconciler struct {
	client.Client
	State    *State
	Recorder events.EventRecorder
}

// +kubebuilder:rbac:groups=core.contrail.juniper.net,resources=virtualnetworks,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=core.contrail.juniper.net,resources=virtualnetworks/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=core.contrail.juniper.net,resources=routinginstances,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=core.contrail.juniper.net,resources=routetargets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=core.contrail.juniper.net,resources=subnets,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile allocates the network's VNI, makes its route targets and
// routing instance, and reports the outcome.
func (r *VirtualNetworkReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if err := r.State.Load(ctx); err != nil {
		return ctrl.Result{}, err
	}
	vn := &corev1alpha1.VirtualNetwork{}
	if err := r.Get(ctx, req.NamespacedName, vn); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !vn.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.delete(ctx, vn)
	}
	if err := addFinalizers(ctx, r.Client, vn, virtualNetworkFinalizers...); err != nil {
		return ctrl.Result{}, err
	}
	before := deepCopy(vn)

	vni, err := r.allocateVNI(ctx, vn)
	if err != nil {
		return ctrl.Result{}, err
	}
	if vni == 0 {
		setState(&vn.Status.CommonStatus, vn.Generation, corev1alpha1.StateFailure, ReasonPoolExhausted, "no VNI left to allocate")
		r.Recorder.Eventf(vn, nil, "Warning", ReasonPoolExhausted, "AllocateVNI", vn.Status.Observation)
		return ctrl.Result{}, patchStatus(ctx, r.Client, vn, before)
	}
	vn.Status.VirtualNetworkNetworkID = int64(vni)

	families, missing, err := r.subnetFamilies(ctx, vn)
	if err != nil {
		return ctrl.Result{}, err
	}
	vn.Status.IPFamilies = families

	if err := r.ensureRouteTargets(ctx, vn); err != nil {
		return ctrl.Result{}, err
	}
	ri, err := r.ensureRoutingInstance(ctx, vn)
	if err != nil {
		return ctrl.Result{}, err
	}

	switch {
	case missing != "":
		setState(&vn.Status.CommonStatus, vn.Generation, corev1alpha1.StateFailure, ReasonSubnetNotFound, missing)
		if before.Status.Observation != missing {
			r.Recorder.Eventf(vn, nil, "Warning", ReasonSubnetNotFound, "ResolveSubnets", missing)
		}
	case ri.Status.State != corev1alpha1.StateSuccess:
		setState(&vn.Status.CommonStatus, vn.Generation, corev1alpha1.StatePending, ReasonRoutingInstance,
			fmt.Sprintf("waiting for RoutingInstance %s", ri.Name))
	default:
		setState(&vn.Status.CommonStatus, vn.Generation, corev1alpha1.StateSuccess, ReasonReady, "")
	}
	return ctrl.Result{}, patchStatus(ctx, r.Client, vn, before)
}

// allocateVNI gives the network the VNI it holds, or a free one once its
// Allocation is created for it (0: none left).
func (r *VirtualNetworkReconciler) allocateVNI(ctx context.Context, vn *corev1alpha1.VirtualNetwork) (uint64, error) {
	for range maxClaims {
		vni, err := r.State.VNIs.Allocate(vn.UID)
		if err != nil {
			return 0, nil
		}
		other, err := r.State.locks.claim(ctx, corev1alpha1.VNIAllocationName(vni), corev1alpha1.AllocationSpec{
			Type: corev1alpha1.AllocationVNI, Value: strconv.FormatUint(vni, 10), HolderReference: holderOf(vn, "VirtualNetwork")})
		if err != nil {
			r.State.VNIs.Release(vn.UID)
			return 0, err
		}
		if other == nil {
			return vni, nil
		}
		r.State.VNIs.Release(vn.UID)
		r.State.learn(func(uid types.UID) error { return r.State.VNIs.Reserve(vni, uid) }, other)
	}
	return 0, fmt.Errorf("%d VNIs in a row were held by other objects than the pool knew: trying again", maxClaims)
}

// subnetFamilies names the address families of the network's subnets, and
// says which referenced Subnet does not exist.
func (r *VirtualNetworkReconciler) subnetFamilies(ctx context.Context, vn *corev1alpha1.VirtualNetwork) (string, string, error) {
	var families, missing []string
	for _, ref := range []struct {
		family string
		ref    *corev1alpha1.ResourceReference
	}{{"v4", vn.Spec.V4SubnetReference}, {"v6", vn.Spec.V6SubnetReference}} {
		if ref.ref == nil {
			continue
		}
		sn := &corev1alpha1.Subnet{}
		key := subnetKey(ref.ref, vn.Namespace)
		err := r.Get(ctx, key, sn)
		switch {
		case apierrors.IsNotFound(err):
			missing = append(missing, fmt.Sprintf("Subnet %s (%sSubnetReference) not found", key, ref.family))
		case err != nil:
			return "", "", fmt.Errorf("failed to get Subnet %s: %w", key, err)
		default:
			families = append(families, ref.family)
		}
	}
	return strings.Join(families, ","), strings.Join(missing, "; "), nil
}

// userRouteTargets are the network's route targets with the direction the
// routing instance uses them in: both for routeTargetList, import or export
// for the others.
func userRouteTargets(vn *corev1alpha1.VirtualNetwork) []corev1alpha1.RouteTargetReference {
	var refs []corev1alpha1.RouteTargetReference
	add := func(list []corev1alpha1.RouteTargetString, dir corev1alpha1.ImportExport) {
		for _, rt := range list {
			v, err := corev1alpha1.ParseRouteTarget(string(rt))
			if err != nil {
				continue // admission rejects these; an old object may still hold one
			}
			refs = append(refs, corev1alpha1.RouteTargetReference{
				ResourceReference: corev1alpha1.ResourceReference{
					APIVersion: corev1alpha1.GroupVersion.String(), Kind: "RouteTarget",
					Name: v.ObjectName(), FQName: []string{v.ObjectName()},
				},
				Attributes: corev1alpha1.RouteTargetAttributes{ImportExport: dir},
			})
		}
	}
	add(vn.Spec.ExportRouteTargetList, corev1alpha1.ImportExportExport)
	add(vn.Spec.ImportRouteTargetList, corev1alpha1.ImportExportImport)
	add(vn.Spec.RouteTargetList, corev1alpha1.ImportExportBoth)
	return refs
}

// ensureRouteTargets makes the RouteTarget objects of the user's lists.
// They are shared by every network that names them and outlive them, as
// CN2's do.
func (r *VirtualNetworkReconciler) ensureRouteTargets(ctx context.Context, vn *corev1alpha1.VirtualNetwork) error {
	for _, ref := range userRouteTargets(vn) {
		rt := &corev1alpha1.RouteTarget{ObjectMeta: metav1.ObjectMeta{Name: ref.Name}}
		if err := r.Create(ctx, rt); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("failed to create RouteTarget %s: %w", ref.Name, err)
		}
	}
	return nil
}

// ensureRoutingInstance makes the network's default routing instance: same
// name and namespace, owned by the network, referencing the route targets.
func (r *VirtualNetworkReconciler) ensureRoutingInstance(ctx context.Context, vn *corev1alpha1.VirtualNetwork) (*corev1alpha1.RoutingInstance, error) {
	ri := &corev1alpha1.RoutingInstance{ObjectMeta: metav1.ObjectMeta{Namespace: vn.Namespace, Name: vn.Name}}
	refs := userRouteTargets(vn)
	for i := range refs {
		rt := &corev1alpha1.RouteTarget{}
		if err := r.Get(ctx, types.NamespacedName{Name: refs[i].Name}, rt); err == nil {
			refs[i].UID = rt.UID
		}
	}
	_, err := controllerutil.CreateOrPatch(ctx, r.Client, ri, func() error {
		if err := controllerutil.SetControllerReference(vn, ri, r.Scheme()); err != nil {
			return err
		}
		ri.Spec.Parent = corev1alpha1.ResourceReference{
			APIVersion: corev1alpha1.GroupVersion.String(), Kind: "VirtualNetwork",
			Namespace: vn.Namespace, Name: vn.Name, UID: vn.UID,
		}
		ri.Spec.RouteTargetReferences = refs
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("failed to create or update RoutingInstance %s/%s: %w", ri.Namespace, ri.Name, err)
	}
	return ri, nil
}

// delete removes the routing instance, waits for it to go (its own
// finalizers release its route target), then frees the VNI.
func (r *VirtualNetworkReconciler) delete(ctx context.Context, vn *corev1alpha1.VirtualNetwork) error {
	ri := &corev1alpha1.RoutingInstance{}
	err := r.Get(ctx, client.ObjectKeyFromObject(vn), ri)
	switch {
	case err == nil && metav1.IsControlledBy(ri, vn):
		if ri.DeletionTimestamp.IsZero() {
			if err := r.Delete(ctx, ri); client.IgnoreNotFound(err) != nil {
				return fmt.Errorf("failed to delete RoutingInstance %s/%s: %w", ri.Namespace, ri.Name, err)
			}
		}
		return nil // the RoutingInstance's deletion requeues the network
	case err != nil && !apierrors.IsNotFound(err):
		return fmt.Errorf("failed to get RoutingInstance %s/%s: %w", vn.Namespace, vn.Name, err)
	}
	var recorded []string
	if id := vn.Status.VirtualNetworkNetworkID; id > 0 {
		recorded = append(recorded, corev1alpha1.VNIAllocationName(uint64(id)))
	}
	if err := r.State.locks.releaseHolder(ctx, vn.UID, recorded...); err != nil {
		return err
	}
	r.State.VNIs.Release(vn.UID)
	return removeFinalizers(ctx, r.Client, vn, virtualNetworkFinalizers...)
}

// SetupWithManager watches networks, the routing instances they own, and
// the subnets they reference.
func (r *VirtualNetworkReconciler) SetupWithManager(mgr ctrl.Manager, workers int) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&corev1alpha1.VirtualNetwork{}).
		Owns(&corev1alpha1.RoutingInstance{}).
		Watches(&corev1alpha1.Subnet{}, handler.EnqueueRequestsFromMapFunc(r.networksOfSubnet)).
		WithOptions(controllerOptions(workers)).
		Named("virtualnetwork").
		Complete(r)
}

// networksOfSubnet maps a Subnet to the networks that reference it.
func (r *VirtualNetworkReconciler) networksOfSubnet(ctx context.Context, obj client.Object) []ctrl.Request {
	var vns corev1alpha1.VirtualNetworkList
	if err := r.List(ctx, &vns, client.MatchingFields{indexVNSubnets: obj.GetNamespace() + "/" + obj.GetName()}); err != nil {
		return nil
	}
	reqs := make([]ctrl.Request, 0, len(vns.Items))
	for _, vn := range vns.Items {
		reqs = append(reqs, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&vn)})
	}
	return reqs
}
