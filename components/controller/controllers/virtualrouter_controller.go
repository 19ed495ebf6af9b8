package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
)

// VirtualRouterReconciler deletes the VirtualRouter of a Node that is gone:
// a node's vrouter agent makes its VirtualRouter (named by the node) and
// lists its pods' endpoints in it, which every other agent forwards to; a
// node deleted with its agent would leave flood entries and neighbours for
// addresses that will be given to other pods. It is deleted only when the
// Node is missing from the apiserver itself, not only from the cache, and
// is older than Grace (an agent registers its VirtualRouter once its Node
// exists).
type VirtualRouterReconciler struct {
	client.Client
	APIReader client.Reader
	Recorder  events.EventRecorder
	Grace     time.Duration
}

// +kubebuilder:rbac:groups="",resources=nodes,verbs=get;list;watch
// +kubebuilder:rbac:groups=core.contrail.juniper.net,resources=virtualrouters,verbs=get;list;watch;delete

// Reconcile deletes the VirtualRouter when its Node is gone.
func (r *VirtualRouterReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	vr := &corev1alpha1.VirtualRouter{}
	if err := r.Get(ctx, req.NamespacedName, vr); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !vr.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	if err := r.Get(ctx, types.NamespacedName{Name: vr.Name}, &corev1.Node{}); !apierrors.IsNotFound(err) {
		return ctrl.Result{}, err
	}
	if age := time.Since(vr.CreationTimestamp.Time); age < r.Grace {
		return ctrl.Result{RequeueAfter: r.Grace - age}, nil
	}
	if err := r.APIReader.Get(ctx, types.NamespacedName{Name: vr.Name}, &corev1.Node{}); !apierrors.IsNotFound(err) {
		return ctrl.Result{}, err // there after all (the cache lags), or a question to ask again
	}
	uid := vr.UID
	if err := r.Delete(ctx, vr, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, fmt.Errorf("failed to delete VirtualRouter %s of a deleted node: %w", vr.Name, err)
	}
	logf.FromContext(ctx).Info("Deleted the VirtualRouter of a node that is gone", "virtualrouter", vr.Name, "endpoints", len(vr.Status.Endpoints))
	return ctrl.Result{}, nil
}

// SetupWithManager watches VirtualRouters and the Nodes of their names.
func (r *VirtualRouterReconciler) SetupWithManager(mgr ctrl.Manager, workers int) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&corev1alpha1.VirtualRouter{}).
		Watches(&corev1.Node{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []ctrl.Request {
			return []ctrl.Request{{NamespacedName: types.NamespacedName{Name: o.GetName()}}}
		})).
		WithOptions(controllerOptions(workers)).
		Named("virtualrouter").
		Complete(r)
}
