package controllers

import (
	"context"
	"errors"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
	"github.com/kontrail/kontrail/components/controller/allocator"
)

// The finalizers CN2 puts on a RoutingInstance: its system route target is
// deleted and its number goes back to the pool before it goes.
const (
	FinalizerRouteTargetDeleteDefault      = "route-target-delete-default.finalizers.core.juniper.net"
	FinalizerRouteTargetNumberDeallocation = "route-target-number-deallocation.finalizers.core.juniper.net"
)

var routingInstanceFinalizers = []string{FinalizerRouteTargetDeleteDefault, FinalizerRouteTargetNumberDeallocation}

// RoutingInstanceReconciler gives every RoutingInstance its system route
// target, target:<AS>:<8000000+n>.
type RoutingInstanceReconciler struct {
	client.Client
	State    *State
	Recorder events.EventRecorder
	// AutonomousSystem is the AS of the system route targets (CN2: 64512).
	AutonomousSystem uint32
}

// +kubebuilder:rbac:groups=core.contrail.juniper.net,resources=routinginstances,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=core.contrail.juniper.net,resources=routinginstances/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=core.contrail.juniper.net,resources=routetargets,verbs=get;list;watch;create;delete

// Reconcile allocates the instance's route-target number and makes its
// RouteTarget object.
func (r *RoutingInstanceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if err := r.State.Load(ctx); err != nil {
		return ctrl.Result{}, err
	}
	ri := &corev1alpha1.RoutingInstance{}
	if err := r.Get(ctx, req.NamespacedName, ri); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !ri.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.delete(ctx, ri)
	}
	if err := addFinalizers(ctx, r.Client, ri, routingInstanceFinalizers...); err != nil {
		return ctrl.Result{}, err
	}
	before := deepCopy(ri)

	value, rt, err := r.routeTargets().ensure(ctx, ri.UID)
	if errors.Is(err, allocator.ErrExhausted) {
		setState(&ri.Status.CommonStatus, ri.Generation, corev1alpha1.StateFailure, ReasonPoolExhausted, err.Error())
		r.Recorder.Eventf(ri, nil, "Warning", ReasonPoolExhausted, "AllocateRouteTarget", ri.Status.Observation)
		return ctrl.Result{}, patchStatus(ctx, r.Client, ri, before)
	}
	if err != nil {
		return ctrl.Result{}, err
	}

	ri.Status.DefaultRouteTargetReference = &corev1alpha1.RouteTargetReference{ResourceReference: corev1alpha1.ResourceReference{
		APIVersion: corev1alpha1.GroupVersion.String(), Kind: "RouteTarget", Name: rt.Name, UID: rt.UID, FQName: []string{rt.Name},
	}}
	ri.Status.DefaultRouteTarget = strconv.FormatUint(uint64(value.ASN), 10) + ":" + strconv.FormatUint(uint64(value.Number), 10)
	ri.Status.IsDefault = isDefaultRoutingInstance(ri)
	setState(&ri.Status.CommonStatus, ri.Generation, corev1alpha1.StateSuccess, ReasonReady, "")
	return ctrl.Result{}, patchStatus(ctx, r.Client, ri, before)
}

func (r *RoutingInstanceReconciler) routeTargets() systemRouteTargets {
	return systemRouteTargets{Client: r.Client, state: r.State, autonomousSystem: r.AutonomousSystem}
}

// isDefaultRoutingInstance: the instance a network gets is controlled by
// the network and named after it.
func isDefaultRoutingInstance(ri *corev1alpha1.RoutingInstance) bool {
	owner := metav1.GetControllerOf(ri)
	return owner != nil && owner.Kind == "VirtualNetwork" && owner.Name == ri.Spec.Parent.Name && ri.Name == ri.Spec.Parent.Name
}

// delete removes the system route target and frees its number.
func (r *RoutingInstanceReconciler) delete(ctx context.Context, ri *corev1alpha1.RoutingInstance) error {
	if err := r.routeTargets().release(ctx, ri.UID); err != nil {
		return err
	}
	return removeFinalizers(ctx, r.Client, ri, routingInstanceFinalizers...)
}

// SetupWithManager watches routing instances.
func (r *RoutingInstanceReconciler) SetupWithManager(mgr ctrl.Manager, workers int) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&corev1alpha1.RoutingInstance{}).
		WithOptions(controllerOptions(workers)).
		Named("routinginstance").
		Complete(r)
}
