package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
)

// Field indexes of the cache.
const (
	// indexVNSubnets: a VirtualNetwork by its Subnets, <namespace>/<name>.
	indexVNSubnets = "spec.subnetReferences"
	// indexInstanceIPNetwork: an InstanceIP by its network, <namespace>/<name>.
	indexInstanceIPNetwork = "spec.virtualNetworkReference"
	// indexRoutingInstanceVNRs: a RoutingInstance by the routers that wrote
	// route targets into it, <namespace>/<name>.
	indexRoutingInstanceVNRs = "status.virtualNetworkRouterRouteTargetReferences"
)

// Leader election: its lease, and the core events client-go's leader
// election records (LeaderElection) as it takes the lease.
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// Options are the controller's settings.
type Options struct {
	// AutonomousSystem of the system route targets (target:<AS>:<8000000+n>).
	AutonomousSystem uint32
	// Workers is the number of reconciles each reconciler runs at once.
	Workers int
	// RepairInterval is how often Allocations whose holder is gone are
	// looked for (one is deleted after two looks, and when older than two
	// intervals); 30 s when zero.
	RepairInterval time.Duration
	// NodeGoneGrace is how old a VirtualRouter whose Node is gone must be
	// before it is deleted; 30 s when zero.
	NodeGoneGrace time.Duration
}

// Setup registers the indexes and every reconciler of the controller with
// the manager, sharing one State; it returns the State for inspection.
func Setup(ctx context.Context, mgr ctrl.Manager, opts Options) (*State, error) {
	indexer := mgr.GetFieldIndexer()
	if err := indexer.IndexField(ctx, &corev1alpha1.VirtualNetwork{}, indexVNSubnets, func(obj client.Object) []string {
		vn := obj.(*corev1alpha1.VirtualNetwork)
		var names []string
		for _, ref := range []*corev1alpha1.ResourceReference{vn.Spec.V4SubnetReference, vn.Spec.V6SubnetReference} {
			if ref != nil {
				names = append(names, subnetKey(ref, vn.Namespace).String())
			}
		}
		return names
	}); err != nil {
		return nil, fmt.Errorf("failed to index VirtualNetworks by subnet: %w", err)
	}
	if err := indexer.IndexField(ctx, &corev1alpha1.InstanceIP{}, indexInstanceIPNetwork, func(obj client.Object) []string {
		ref := obj.(*corev1alpha1.InstanceIP).Spec.VirtualNetworkReference
		return []string{ref.Namespace + "/" + ref.Name}
	}); err != nil {
		return nil, fmt.Errorf("failed to index InstanceIPs by network: %w", err)
	}

	if err := indexer.IndexField(ctx, &corev1alpha1.RoutingInstance{}, indexRoutingInstanceVNRs, func(obj client.Object) []string {
		refs := obj.(*corev1alpha1.RoutingInstance).Status.VirtualNetworkRouterRouteTargetReferences
		keys := make([]string, 0, len(refs))
		for k := range refs {
			keys = append(keys, k)
		}
		return keys
	}); err != nil {
		return nil, fmt.Errorf("failed to index RoutingInstances by router: %w", err)
	}

	// Every cache the reconcilers read starts with the manager, before the
	// lease: their initial lists (tens of thousands of InstanceIPs and
	// interfaces at scale, seconds each from the apiserver) run at once,
	// not one after another as each controller starts after the lease,
	// and a standby replica holds them synced when it becomes the leader.
	for _, obj := range []client.Object{&corev1alpha1.InstanceIP{}, &corev1alpha1.VirtualMachineInterface{}, &corev1alpha1.VirtualMachine{},
		&corev1alpha1.VirtualNetwork{}, &corev1alpha1.RoutingInstance{}, &corev1alpha1.Subnet{}, &corev1alpha1.VirtualNetworkRouter{},
		&corev1alpha1.RouteTarget{}, &corev1alpha1.VirtualRouter{}, &corev1.Node{}} {
		if _, err := mgr.GetCache().GetInformer(ctx, obj); err != nil {
			return nil, fmt.Errorf("failed to start the cache of %T: %w", obj, err)
		}
	}

	if opts.NodeGoneGrace <= 0 {
		opts.NodeGoneGrace = 30 * time.Second
	}
	if opts.RepairInterval <= 0 {
		opts.RepairInterval = 30 * time.Second
	}
	state := NewState(mgr.GetClient(), mgr.GetAPIReader())
	recorder := mgr.GetEventRecorder("contrail-controller")
	c := mgr.GetClient()
	for _, r := range []interface {
		SetupWithManager(ctrl.Manager, int) error
	}{
		&VirtualNetworkReconciler{Client: c, State: state, Recorder: recorder},
		&RoutingInstanceReconciler{Client: c, State: state, Recorder: recorder, AutonomousSystem: opts.AutonomousSystem},
		&SubnetReconciler{Client: c, State: state, Recorder: recorder},
		&InstanceIPReconciler{Client: c, State: state, Recorder: recorder},
		&VirtualMachineInterfaceReconciler{Client: c, State: state, Recorder: recorder},
		&VirtualNetworkRouterReconciler{Client: c, State: state, Recorder: recorder, AutonomousSystem: opts.AutonomousSystem},
		&VirtualRouterReconciler{Client: c, APIReader: mgr.GetAPIReader(), Recorder: recorder, Grace: opts.NodeGoneGrace},
		newStateReconciler("virtualmachine", c, func() *corev1alpha1.VirtualMachine { return &corev1alpha1.VirtualMachine{} }, false),
		newStateReconciler("routetarget", c, func() *corev1alpha1.RouteTarget { return &corev1alpha1.RouteTarget{} }, true),
	} {
		if err := r.SetupWithManager(mgr, opts.Workers); err != nil {
			return nil, fmt.Errorf("failed to set up %T: %w", r, err)
		}
	}
	if err := mgr.Add(&allocationRepair{client: c, reader: mgr.GetAPIReader(), state: state,
		interval: opts.RepairInterval, minAge: 2 * opts.RepairInterval}); err != nil {
		return nil, fmt.Errorf("failed to set up the allocation repair: %w", err)
	}
	return state, nil
}
