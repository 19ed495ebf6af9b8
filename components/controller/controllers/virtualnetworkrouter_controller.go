package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
)

// The finalizers CN2 puts on a VirtualNetworkRouter: its route targets leave
// the networks' routing instances, and its own route target goes, before it does.
const (
	FinalizerRemoveVNRRouteTargets = "remove-vnr-rt-from-vn-ri.finalizers.core.juniper.net"
	FinalizerVNRRoutingInstance    = "vnr-routinginstance-delete.finalizers.core.juniper.net"
)

var virtualNetworkRouterFinalizers = []string{FinalizerRemoveVNRRouteTargets, FinalizerVNRRoutingInstance}

// VirtualNetworkRouterReconciler connects the networks a router selects by
// writing route targets into their routing instances' status
// (virtualNetworkRouterRouteTargetReferences, keyed by router):
//   - mesh: every network exports and imports the router's route target,
//     and imports those of the mesh routers it imports;
//   - hub: the networks export the router's route target and import those
//     of the spoke routers it imports;
//   - spoke: the networks export the router's route target and import those
//     of the hub routers it imports.
//
// Two networks reach each other when each imports a route target the other
// exports; the vrouter agent programs exactly that.
type VirtualNetworkRouterReconciler struct {
	client.Client
	State            *State
	Recorder         events.EventRecorder
	AutonomousSystem uint32
}

// +kubebuilder:rbac:groups=core.contrail.juniper.net,resources=virtualnetworkrouters,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=core.contrail.juniper.net,resources=virtualnetworkrouters/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=core.contrail.juniper.net,resources=routinginstances/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch

// Reconcile allocates the router's route target and writes the route
// targets of its networks' routing instances.
func (r *VirtualNetworkRouterReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if err := r.State.Load(ctx); err != nil {
		return ctrl.Result{}, err
	}
	vnr := &corev1alpha1.VirtualNetworkRouter{}
	if err := r.Get(ctx, req.NamespacedName, vnr); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	key := vnr.Namespace + "/" + vnr.Name
	if !vnr.DeletionTimestamp.IsZero() {
		if err := r.applyToRoutingInstances(ctx, key, nil, nil); err != nil {
			return ctrl.Result{}, err
		}
		if err := r.routeTargets().release(ctx, vnr.UID); err != nil {
			return ctrl.Result{}, err
		}
		return ctrl.Result{}, removeFinalizers(ctx, r.Client, vnr, virtualNetworkRouterFinalizers...)
	}
	if err := addFinalizers(ctx, r.Client, vnr, virtualNetworkRouterFinalizers...); err != nil {
		return ctrl.Result{}, err
	}
	before := deepCopy(vnr)

	own, _, err := r.routeTargets().ensure(ctx, vnr.UID)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("VirtualNetworkRouter %s: %w", key, err)
	}
	vnr.Status.RouteTarget = corev1alpha1.RouteTargetString(own.String())

	imported, err := r.importedRouteTargets(ctx, vnr)
	if err != nil {
		return ctrl.Result{}, err
	}
	refs := []corev1alpha1.RouteTargetReference{routeTargetReference(own, corev1alpha1.ImportExportExport)}
	if vnr.Spec.Type == corev1alpha1.VirtualNetworkRouterMesh {
		refs[0].Attributes.ImportExport = corev1alpha1.ImportExportBoth
	}
	for _, rt := range imported {
		refs = append(refs, routeTargetReference(rt, corev1alpha1.ImportExportImport))
	}

	networks, err := r.selectedNetworks(ctx, vnr)
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := r.applyToRoutingInstances(ctx, key, networks, refs); err != nil {
		return ctrl.Result{}, err
	}
	vnr.Status.VirtualNetworks = networks
	setState(&vnr.Status.CommonStatus, vnr.Generation, corev1alpha1.StateSuccess, ReasonReady, "")
	return ctrl.Result{}, patchStatus(ctx, r.Client, vnr, before)
}

func (r *VirtualNetworkRouterReconciler) routeTargets() systemRouteTargets {
	return systemRouteTargets{Client: r.Client, state: r.State, autonomousSystem: r.AutonomousSystem}
}

func routeTargetReference(v corev1alpha1.RouteTargetValue, dir corev1alpha1.ImportExport) corev1alpha1.RouteTargetReference {
	return corev1alpha1.RouteTargetReference{
		ResourceReference: corev1alpha1.ResourceReference{APIVersion: corev1alpha1.GroupVersion.String(), Kind: "RouteTarget",
			Name: v.ObjectName(), FQName: []string{v.ObjectName()}},
		Attributes: corev1alpha1.RouteTargetAttributes{ImportExport: dir},
	}
}

// importedRouteTargets are the route targets of the routers vnr imports
// that its type connects to: mesh imports mesh, hub imports spoke, spoke
// imports hub.
func (r *VirtualNetworkRouterReconciler) importedRouteTargets(ctx context.Context, vnr *corev1alpha1.VirtualNetworkRouter) ([]corev1alpha1.RouteTargetValue, error) {
	want := map[corev1alpha1.VirtualNetworkRouterType]corev1alpha1.VirtualNetworkRouterType{
		corev1alpha1.VirtualNetworkRouterMesh:  corev1alpha1.VirtualNetworkRouterMesh,
		corev1alpha1.VirtualNetworkRouterHub:   corev1alpha1.VirtualNetworkRouterSpoke,
		corev1alpha1.VirtualNetworkRouterSpoke: corev1alpha1.VirtualNetworkRouterHub,
	}[vnr.Spec.Type]
	var out []corev1alpha1.RouteTargetValue
	for _, imp := range vnr.Spec.Import.VirtualNetworkRouters {
		namespaces, err := r.namespaces(ctx, vnr.Namespace, imp.NamespaceSelector)
		if err != nil {
			return nil, err
		}
		sel, err := selector(imp.VirtualNetworkRouterSelector)
		if err != nil {
			return nil, err
		}
		for _, ns := range namespaces {
			var vnrs corev1alpha1.VirtualNetworkRouterList
			if err := r.List(ctx, &vnrs, client.InNamespace(ns), client.MatchingLabelsSelector{Selector: sel}); err != nil {
				return nil, fmt.Errorf("failed to list VirtualNetworkRouters in %s: %w", ns, err)
			}
			for _, other := range vnrs.Items {
				if other.UID == vnr.UID || other.Spec.Type != want || other.Status.RouteTarget == "" {
					continue
				}
				if v, err := corev1alpha1.ParseRouteTarget(string(other.Status.RouteTarget)); err == nil {
					out = append(out, v)
				}
			}
		}
	}
	return out, nil
}

// namespaces are those a selector picks, or only own when it is absent.
func (r *VirtualNetworkRouterReconciler) namespaces(ctx context.Context, own string, ls *metav1.LabelSelector) ([]string, error) {
	if ls == nil {
		return []string{own}, nil
	}
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		return nil, fmt.Errorf("invalid namespace selector: %w", err)
	}
	var list corev1.NamespaceList
	if err := r.List(ctx, &list, client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil, fmt.Errorf("failed to list namespaces: %w", err)
	}
	names := make([]string, 0, len(list.Items))
	for _, ns := range list.Items {
		names = append(names, ns.Name)
	}
	return names, nil
}

// selector converts a label selector; an absent one selects nothing.
func selector(ls *metav1.LabelSelector) (labels.Selector, error) {
	if ls == nil {
		return labels.Nothing(), nil
	}
	return metav1.LabelSelectorAsSelector(ls)
}

// selectedNetworks are the networks in the router's namespace its selector picks.
func (r *VirtualNetworkRouterReconciler) selectedNetworks(ctx context.Context, vnr *corev1alpha1.VirtualNetworkRouter) ([]string, error) {
	sel, err := selector(vnr.Spec.VirtualNetworkSelector)
	if err != nil {
		return nil, err
	}
	var vns corev1alpha1.VirtualNetworkList
	if err := r.List(ctx, &vns, client.InNamespace(vnr.Namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil, fmt.Errorf("failed to list VirtualNetworks: %w", err)
	}
	var names []string
	for _, vn := range vns.Items {
		if vn.DeletionTimestamp.IsZero() {
			names = append(names, vn.Namespace+"/"+vn.Name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// applyToRoutingInstances sets the router's entry in the routing instances
// of networks to refs, and removes it from every other routing instance.
func (r *VirtualNetworkRouterReconciler) applyToRoutingInstances(ctx context.Context, key string, networks []string, refs []corev1alpha1.RouteTargetReference) error {
	var holding corev1alpha1.RoutingInstanceList
	if err := r.List(ctx, &holding, client.MatchingFields{indexRoutingInstanceVNRs: key}); err != nil {
		return fmt.Errorf("failed to list the RoutingInstances of VirtualNetworkRouter %s: %w", key, err)
	}
	for i := range holding.Items {
		ri := &holding.Items[i]
		if slices.Contains(networks, ri.Spec.Parent.Namespace+"/"+ri.Spec.Parent.Name) {
			continue
		}
		before := deepCopy(ri)
		delete(ri.Status.VirtualNetworkRouterRouteTargetReferences, key)
		if err := patchStatus(ctx, r.Client, ri, before); err != nil {
			return err
		}
	}
	for _, network := range networks {
		ns, name, _ := strings.Cut(network, "/")
		ri := &corev1alpha1.RoutingInstance{}
		if err := r.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, ri); err != nil {
			if client.IgnoreNotFound(err) == nil {
				continue // the network's reconciler makes it; its creation requeues this router
			}
			return fmt.Errorf("failed to get RoutingInstance %s: %w", network, err)
		}
		before := deepCopy(ri)
		if ri.Status.VirtualNetworkRouterRouteTargetReferences == nil {
			ri.Status.VirtualNetworkRouterRouteTargetReferences = map[string][]corev1alpha1.RouteTargetReference{}
		}
		ri.Status.VirtualNetworkRouterRouteTargetReferences[key] = refs
		if err := patchStatus(ctx, r.Client, ri, before); err != nil {
			return err
		}
	}
	return nil
}

// SetupWithManager watches routers, the networks they may select, the
// routing instances they write, and each other (imports).
func (r *VirtualNetworkRouterReconciler) SetupWithManager(mgr ctrl.Manager, workers int) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&corev1alpha1.VirtualNetworkRouter{}).
		Watches(&corev1alpha1.VirtualNetwork{}, handler.EnqueueRequestsFromMapFunc(r.routersIn)).
		Watches(&corev1alpha1.RoutingInstance{}, handler.EnqueueRequestsFromMapFunc(r.routersIn)).
		Watches(&corev1alpha1.VirtualNetworkRouter{}, handler.EnqueueRequestsFromMapFunc(r.allRouters)).
		WithOptions(controllerOptions(workers)).
		Named("virtualnetworkrouter").
		Complete(r)
}

// routersIn maps an object to the routers of its namespace.
func (r *VirtualNetworkRouterReconciler) routersIn(ctx context.Context, obj client.Object) []ctrl.Request {
	return r.routers(ctx, client.InNamespace(obj.GetNamespace()))
}

// allRouters maps a router to every router: any may import it.
func (r *VirtualNetworkRouterReconciler) allRouters(ctx context.Context, _ client.Object) []ctrl.Request {
	return r.routers(ctx)
}

func (r *VirtualNetworkRouterReconciler) routers(ctx context.Context, opts ...client.ListOption) []ctrl.Request {
	var vnrs corev1alpha1.VirtualNetworkRouterList
	if err := r.List(ctx, &vnrs, opts...); err != nil {
		return nil
	}
	reqs := make([]ctrl.Request, 0, len(vnrs.Items))
	for _, v := range vnrs.Items {
		reqs = append(reqs, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&v)})
	}
	return reqs
}

// vnrRouteTargetNumber reads n back from a router's route target.
func vnrRouteTargetNumber(rt corev1alpha1.RouteTargetString) (uint64, bool) {
	v, err := corev1alpha1.ParseRouteTarget(string(rt))
	if err != nil || v.Number < firstRouteTargetNumber {
		return 0, false
	}
	return uint64(v.Number), true
}
