package controllers

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
)

// stateReconciler sets Success on kinds the controller has nothing to
// allocate for (VirtualMachines, RouteTargets): they are valid once
// admitted, and their STATE column says so.
type stateReconciler[T interface {
	client.Object
	corev1alpha1.Object
}] struct {
	client.Client
	name   string
	newObj func() T
	// statusSubresource: the kind's status is written through its status
	// subresource (RouteTargets), not with the object (VirtualMachines).
	statusSubresource bool
}

// +kubebuilder:rbac:groups=core.contrail.juniper.net,resources=virtualmachines,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=core.contrail.juniper.net,resources=routetargets,verbs=get;list;watch
// +kubebuilder:rbac:groups=core.contrail.juniper.net,resources=routetargets/status,verbs=get;update;patch

func newStateReconciler[T interface {
	client.Object
	corev1alpha1.Object
}](name string, c client.Client, newObj func() T, statusSubresource bool) *stateReconciler[T] {
	return &stateReconciler[T]{Client: c, name: name, newObj: newObj, statusSubresource: statusSubresource}
}

func (r *stateReconciler[T]) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	obj := r.newObj()
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	cs := obj.GetCommonStatus()
	if cs.State == corev1alpha1.StateSuccess && cs.ObservedGeneration == obj.GetGeneration() {
		return ctrl.Result{}, nil
	}
	before := obj.DeepCopyObject().(T)
	setState(cs, obj.GetGeneration(), corev1alpha1.StateSuccess, ReasonReady, "")
	if r.statusSubresource {
		return ctrl.Result{}, patchStatus(ctx, r.Client, obj, before)
	}
	return ctrl.Result{}, client.IgnoreNotFound(writeObject(ctx, r.Client, obj, before, false))
}

func (r *stateReconciler[T]) SetupWithManager(mgr ctrl.Manager, workers int) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(r.newObj()).
		WithOptions(controllerOptions(workers)).
		Named(r.name).
		Complete(r)
}
