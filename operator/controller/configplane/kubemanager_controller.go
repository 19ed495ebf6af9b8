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

	commonv1alpha1 "github.com/kontrail/kontrail/api/common/v1alpha1"
	configplanev1alpha1 "github.com/kontrail/kontrail/api/configplane/v1alpha1"
)

// Reasons of the deployment resources' conditions.
const (
	ReasonRollingOut = "RollingOut"
	ReasonAvailable  = "Available"
	ReasonPaused     = "Paused"
)

// KubemanagerReconciler turns a Kubemanager into kubemanager's Deployment
// and ServiceAccount, and reports the Deployment's readiness.
type KubemanagerReconciler struct {
	client.Client
	// Image is kubemanager's image, unless spec.common.containers overrides it.
	Image string
	// Version is the version the operator runs.
	Version string
}

// +kubebuilder:rbac:groups=configplane.juniper.net,resources=kubemanagers,verbs=get;list;watch
// +kubebuilder:rbac:groups=configplane.juniper.net,resources=kubemanagers/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=serviceaccounts,verbs=get;list;watch;create;update;patch;delete

// Reconcile renders the workload and reports on it.
func (r *KubemanagerReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	km := &configplanev1alpha1.Kubemanager{}
	if err := r.Get(ctx, req.NamespacedName, km); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := km.DeepCopy()
	status := &km.Status

	if km.Spec.Pause {
		setCondition(status, km.Generation, commonv1alpha1.ConditionProgressing, metav1.ConditionFalse, ReasonPaused,
			"spec.pause is set: the workload is left as it is")
		return ctrl.Result{}, r.patchStatus(ctx, km, before)
	}

	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: km.Namespace, Name: kubemanagerName(km)}}
	if _, err := controllerutil.CreateOrPatch(ctx, r.Client, sa, func() error {
		return controllerutil.SetControllerReference(km, sa, r.Scheme())
	}); err != nil {
		return ctrl.Result{}, fmt.Errorf("failed to ensure ServiceAccount %s/%s: %w", sa.Namespace, sa.Name, err)
	}

	want := kubemanagerDeployment(km, r.Image)
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: want.Namespace, Name: want.Name}}
	if _, err := controllerutil.CreateOrPatch(ctx, r.Client, dep, func() error {
		dep.Labels = want.Labels
		// The selector is immutable once made; the rest follows the resource.
		if dep.Spec.Selector == nil {
			dep.Spec.Selector = want.Spec.Selector
		}
		dep.Spec.Replicas = want.Spec.Replicas
		dep.Spec.Template = want.Spec.Template
		return controllerutil.SetControllerReference(km, dep, r.Scheme())
	}); err != nil {
		return ctrl.Result{}, fmt.Errorf("failed to ensure Deployment %s/%s: %w", dep.Namespace, dep.Name, err)
	}

	if deploymentReady(dep) {
		setCondition(status, km.Generation, commonv1alpha1.ConditionAvailable, metav1.ConditionTrue, ReasonAvailable, "kubemanager is ready")
		setCondition(status, km.Generation, commonv1alpha1.ConditionProgressing, metav1.ConditionFalse, ReasonAvailable, "the rollout is complete")
		status.Version = r.Version
	} else {
		setCondition(status, km.Generation, commonv1alpha1.ConditionAvailable, metav1.ConditionFalse, ReasonRollingOut,
			fmt.Sprintf("%d of %d replicas of the current version are ready", dep.Status.UpdatedReplicas, ptrValue(dep.Spec.Replicas)))
		setCondition(status, km.Generation, commonv1alpha1.ConditionProgressing, metav1.ConditionTrue, ReasonRollingOut, "rolling out")
	}
	setCondition(status, km.Generation, commonv1alpha1.ConditionDegraded, metav1.ConditionFalse, ReasonAvailable, "no problem seen")
	return ctrl.Result{}, r.patchStatus(ctx, km, before)
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

func (r *KubemanagerReconciler) patchStatus(ctx context.Context, km, before *configplanev1alpha1.Kubemanager) error {
	if equality.Semantic.DeepEqual(km.Status, before.Status) {
		return nil
	}
	if err := r.Status().Patch(ctx, km, client.MergeFrom(before)); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("failed to update the status of Kubemanager %s/%s: %w", km.Namespace, km.Name, err)
	}
	return nil
}

// SetupWithManager watches Kubemanagers and the workloads they own, so that
// drift is corrected.
func (r *KubemanagerReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&configplanev1alpha1.Kubemanager{}).
		Owns(&appsv1.Deployment{}).
		Owns(&corev1.ServiceAccount{}).
		Named("kubemanager").
		Complete(r)
}
