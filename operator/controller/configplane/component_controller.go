package configplane

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	commonv1alpha1 "github.com/kontrail/kontrail/api/common/v1alpha1"
	configplanev1alpha1 "github.com/kontrail/kontrail/api/configplane/v1alpha1"
)

// Reasons of the deployment resources' conditions.
const (
	ReasonRollingOut          = "RollingOut"
	ReasonAvailable           = "Available"
	ReasonPaused              = "Paused"
	ReasonWaitingForApiServer = "WaitingForApiServer"
)

// Images are the components' images, unless a resource's
// spec.common.containers overrides one.
type Images struct {
	ApiServer, Controller, Kubemanager string
}

// ComponentReconciler turns one kind of control-plane resource into its
// component's ServiceAccount and Deployment, and reports the Deployment's
// readiness as the resource's conditions.
type ComponentReconciler[T interface {
	commonv1alpha1.Component
	client.Object
}] struct {
	client.Client
	// Name names the controller.
	Name string
	// NewObject makes an empty resource.
	NewObject func() T
	// Render describes the resource's workload; api is the Available
	// ApiServer when NeedsApiServer, else nil.
	Render func(obj T, api *configplanev1alpha1.ApiServer) workload
	// NeedsApiServer holds the workload back until an ApiServer is Available.
	NeedsApiServer bool
	// Version is the version the operator runs.
	Version string
}

// +kubebuilder:rbac:groups=configplane.juniper.net,resources=apiservers;controllers;kubemanagers,verbs=get;list;watch
// +kubebuilder:rbac:groups=configplane.juniper.net,resources=apiservers/status;controllers/status;kubemanagers/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=serviceaccounts,verbs=get;list;watch;create;update;patch;delete

// Reconcile renders the workload and reports on it.
func (r *ComponentReconciler[T]) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	obj := r.NewObject()
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := obj.DeepCopyObject().(T)
	status, gen := obj.GetComponentStatus(), obj.GetGeneration()

	if obj.GetComponentSpec().Pause {
		setCondition(status, gen, commonv1alpha1.ConditionProgressing, metav1.ConditionFalse, ReasonPaused,
			"spec.pause is set: the workload is left as it is")
		return ctrl.Result{}, r.patchStatus(ctx, obj, before)
	}
	var api *configplanev1alpha1.ApiServer
	if r.NeedsApiServer {
		var err error
		if api, err = availableApiServer(ctx, r.Client); err != nil {
			return ctrl.Result{}, err
		}
		if api == nil {
			setCondition(status, gen, commonv1alpha1.ConditionAvailable, metav1.ConditionFalse, ReasonWaitingForApiServer,
				"waiting for an ApiServer to be Available")
			setCondition(status, gen, commonv1alpha1.ConditionProgressing, metav1.ConditionTrue, ReasonWaitingForApiServer,
				"waiting for an ApiServer to be Available")
			return ctrl.Result{}, r.patchStatus(ctx, obj, before)
		}
	}
	w := r.Render(obj, api)

	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: obj.GetNamespace(), Name: w.name}}
	if _, err := controllerutil.CreateOrPatch(ctx, r.Client, sa, func() error {
		return controllerutil.SetControllerReference(obj, sa, r.Scheme())
	}); err != nil {
		return ctrl.Result{}, fmt.Errorf("failed to ensure ServiceAccount %s/%s: %w", sa.Namespace, sa.Name, err)
	}
	want := renderDeployment(w)
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: want.Namespace, Name: want.Name}}
	if _, err := controllerutil.CreateOrPatch(ctx, r.Client, dep, func() error {
		dep.Labels = want.Labels
		if dep.Spec.Selector == nil { // immutable once made
			dep.Spec.Selector = want.Spec.Selector
		}
		dep.Spec.Replicas = want.Spec.Replicas
		dep.Spec.Template = want.Spec.Template
		return controllerutil.SetControllerReference(obj, dep, r.Scheme())
	}); err != nil {
		return ctrl.Result{}, fmt.Errorf("failed to ensure Deployment %s/%s: %w", dep.Namespace, dep.Name, err)
	}

	if deploymentReady(dep) {
		setCondition(status, gen, commonv1alpha1.ConditionAvailable, metav1.ConditionTrue, ReasonAvailable, w.component+" is ready")
		setCondition(status, gen, commonv1alpha1.ConditionProgressing, metav1.ConditionFalse, ReasonAvailable, "the rollout is complete")
		status.Version = r.Version
	} else {
		setCondition(status, gen, commonv1alpha1.ConditionAvailable, metav1.ConditionFalse, ReasonRollingOut,
			fmt.Sprintf("%d of %d replicas of the current version are available", dep.Status.UpdatedReplicas, ptrValue(dep.Spec.Replicas)))
		setCondition(status, gen, commonv1alpha1.ConditionProgressing, metav1.ConditionTrue, ReasonRollingOut, "rolling out")
	}
	setCondition(status, gen, commonv1alpha1.ConditionDegraded, metav1.ConditionFalse, ReasonAvailable, "no problem seen")
	return ctrl.Result{}, r.patchStatus(ctx, obj, before)
}

// availableApiServer is an Available ApiServer, or nil.
func availableApiServer(ctx context.Context, c client.Client) (*configplanev1alpha1.ApiServer, error) {
	var list configplanev1alpha1.ApiServerList
	if err := c.List(ctx, &list); err != nil {
		return nil, fmt.Errorf("failed to list ApiServers: %w", err)
	}
	for i := range list.Items {
		if meta.IsStatusConditionTrue(list.Items[i].Status.Conditions, commonv1alpha1.ConditionAvailable) {
			return &list.Items[i], nil
		}
	}
	return nil, nil
}

// deploymentReady: the Deployment controller has seen the current spec and
// every replica of it is updated and available.
func deploymentReady(d *appsv1.Deployment) bool {
	want := ptrValue(d.Spec.Replicas)
	return d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == want &&
		d.Status.AvailableReplicas == want && d.Status.Replicas == want
}

func ptrValue(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

func setCondition(s *commonv1alpha1.ComponentStatus, gen int64, typ string, st metav1.ConditionStatus, reason, msg string) {
	s.ObservedGeneration = gen
	meta.SetStatusCondition(&s.Conditions, metav1.Condition{Type: typ, Status: st, Reason: reason, Message: msg, ObservedGeneration: gen})
}

func (r *ComponentReconciler[T]) patchStatus(ctx context.Context, obj, before T) error {
	if equality.Semantic.DeepEqual(obj.GetComponentStatus(), before.GetComponentStatus()) {
		return nil
	}
	if err := r.Status().Patch(ctx, obj, client.MergeFrom(before)); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("failed to update the status of %s %s/%s: %w", r.Name, obj.GetNamespace(), obj.GetName(), err)
	}
	return nil
}

// SetupWithManager watches the resources, the workloads they own (drift is
// corrected) and, when they wait for one, the ApiServers.
func (r *ComponentReconciler[T]) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).
		For(r.NewObject()).
		Owns(&appsv1.Deployment{}).
		Owns(&corev1.ServiceAccount{}).
		Named(r.Name)
	if r.NeedsApiServer {
		b = b.Watches(&configplanev1alpha1.ApiServer{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []ctrl.Request {
			return r.all(ctx)
		}))
	}
	return b.Complete(r)
}

// all lists every resource of the kind, to requeue them when an ApiServer changes.
func (r *ComponentReconciler[T]) all(ctx context.Context) []ctrl.Request {
	var list metav1.PartialObjectMetadataList
	gvk, err := r.GroupVersionKindFor(r.NewObject())
	if err != nil {
		return nil
	}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err := r.List(ctx, &list); err != nil {
		return nil
	}
	reqs := make([]ctrl.Request, 0, len(list.Items))
	for _, o := range list.Items {
		reqs = append(reqs, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&o)})
	}
	return reqs
}

// SetupWithManager registers the reconcilers of the three control-plane resources.
func SetupWithManager(mgr ctrl.Manager, images Images, version string) error {
	c := mgr.GetClient()
	if err := (&ComponentReconciler[*configplanev1alpha1.ApiServer]{Client: c, Name: "apiserver", Version: version,
		NewObject: func() *configplanev1alpha1.ApiServer { return &configplanev1alpha1.ApiServer{} },
		Render: func(a *configplanev1alpha1.ApiServer, _ *configplanev1alpha1.ApiServer) workload {
			return apiServerWorkload(a, images.ApiServer)
		}}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&ComponentReconciler[*configplanev1alpha1.Controller]{Client: c, Name: "controller", Version: version, NeedsApiServer: true,
		NewObject: func() *configplanev1alpha1.Controller { return &configplanev1alpha1.Controller{} },
		Render: func(ctl *configplanev1alpha1.Controller, api *configplanev1alpha1.ApiServer) workload {
			return controllerWorkload(ctl, images.Controller, api.Spec.AutonomousSystem)
		}}).SetupWithManager(mgr); err != nil {
		return err
	}
	return (&ComponentReconciler[*configplanev1alpha1.Kubemanager]{Client: c, Name: "kubemanager", Version: version, NeedsApiServer: true,
		NewObject: func() *configplanev1alpha1.Kubemanager { return &configplanev1alpha1.Kubemanager{} },
		Render: func(km *configplanev1alpha1.Kubemanager, _ *configplanev1alpha1.ApiServer) workload {
			return kubemanagerWorkload(km, images.Kubemanager)
		}}).SetupWithManager(mgr)
}
