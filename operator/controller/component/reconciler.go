// Package component is what the operator's reconcilers of the four
// deployment resources share: a resource becomes its component's
// ServiceAccount, RBAC and workload (plus what a component adds), its
// readiness becomes the resource's conditions, and its deletion removes
// everything the operator made for it.
package component

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	commonv1alpha1 "github.com/kontrail/kontrail/api/common/v1alpha1"
)

// Finalizer lets the operator remove what it made for a resource,
// cluster-scoped objects included (owner references cannot reach those).
const Finalizer = "kontrail.juniper.net/operator-cleanup"

// Reasons of the deployment resources' conditions.
const (
	ReasonRollingOut = "RollingOut"
	ReasonAvailable  = "Available"
	ReasonPaused     = "Paused"
	ReasonNoProblem  = "NoProblem"
	// ReasonNamespaceNotPrivileged: the namespace's Pod Security level
	// forbids the component's pods (host network, and privilege for the agent).
	ReasonNamespaceNotPrivileged = "NamespaceNotPrivileged"
	// ReasonPodsFailing: a pod of the workload cannot start (an image that
	// cannot be pulled, a crash loop, a rollout past its deadline).
	ReasonPodsFailing = "PodsFailing"
)

// Object is a deployment resource.
type Object interface {
	commonv1alpha1.Component
	client.Object
}

// Blocked says why a resource's workload does not run or is not ready.
type Blocked struct {
	Reason, Message string
	// Degraded: it will not resolve by waiting (a second Kubemanager, a
	// namespace that forbids privileged pods); otherwise it is a wait.
	Degraded bool
}

// Addon is what a component needs besides its workload (the apiserver's
// serving certificate, Service and webhook configurations).
type Addon[T Object] interface {
	// Ensure makes it current; blocked says why it is not ready yet, and
	// requeue when to look again (a certificate's renewal).
	Ensure(ctx context.Context, obj T, w *Workload) (blocked *Blocked, requeue time.Duration, err error)
	// Cleanup removes it when the resource is deleted.
	Cleanup(ctx context.Context, obj T) error
}

// Reconciler turns one kind of deployment resource into its component.
type Reconciler[T Object] struct {
	client.Client
	// Kind is the resource's kind; it names the controller.
	Kind string
	// NewObject makes an empty resource.
	NewObject func() T
	// Prerequisite, when set, says why the workload must wait (another
	// component not Available yet), or nil.
	Prerequisite func(ctx context.Context, obj T) (*Blocked, error)
	// Render describes the workload.
	Render func(ctx context.Context, obj T) (*Workload, error)
	// Rules are the component's RBAC rules, granted to its pods.
	Rules []rbacv1.PolicyRule
	// Policy, when set, narrows what the pods' account may do beyond RBAC
	// (a ValidatingAdmissionPolicy and its binding, policy.go).
	Policy *Policy
	// Addons the component needs.
	Addons []Addon[T]
	// Watches are more kinds whose changes requeue every resource (the
	// resources waited for).
	Watches []client.Object
	// Version is the version the operator runs, reported when Available.
	Version string
}

// Reconcile renders the component and reports on it.
func (r *Reconciler[T]) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	obj := r.NewObject()
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !obj.GetDeletionTimestamp().IsZero() {
		return ctrl.Result{}, r.cleanup(ctx, obj)
	}
	if controllerutil.AddFinalizer(obj, Finalizer) {
		if err := r.Update(ctx, obj); err != nil {
			return ctrl.Result{}, fmt.Errorf("failed to add the finalizer to %s %s: %w", r.Kind, req, err)
		}
	}
	before := obj.DeepCopyObject().(T)
	status, gen := obj.GetComponentStatus(), obj.GetGeneration()

	if obj.GetComponentSpec().Pause {
		SetCondition(status, gen, commonv1alpha1.ConditionProgressing, metav1.ConditionFalse, ReasonPaused,
			"spec.pause is set: the workload is left as it is")
		return ctrl.Result{}, r.patchStatus(ctx, obj, before)
	}
	// Every component runs in the host network (Kontrail is the network
	// its own pods would otherwise wait for): a namespace whose Pod
	// Security level forbids that would never get a pod.
	if blocked, err := privilegedNamespace(ctx, r.Client, obj.GetNamespace()); err != nil || blocked != nil {
		if err != nil {
			return ctrl.Result{}, err
		}
		setBlocked(status, gen, blocked)
		return ctrl.Result{}, r.patchStatus(ctx, obj, before)
	}
	if r.Prerequisite != nil {
		blocked, err := r.Prerequisite(ctx, obj)
		if err != nil {
			return ctrl.Result{}, err
		}
		if blocked != nil {
			setBlocked(status, gen, blocked)
			return ctrl.Result{}, r.patchStatus(ctx, obj, before)
		}
	}
	w, err := r.Render(ctx, obj)
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := r.ensureAccount(ctx, obj, w); err != nil {
		return ctrl.Result{}, err
	}
	var blocked *Blocked
	var requeue time.Duration
	for _, a := range r.Addons {
		b, after, err := a.Ensure(ctx, obj, w)
		if err != nil {
			return ctrl.Result{}, err
		}
		if blocked == nil {
			blocked = b
		}
		if after > 0 && (requeue == 0 || after < requeue) {
			requeue = after
		}
	}
	ready, progress, err := r.ensureWorkload(ctx, obj, w)
	if err != nil {
		return ctrl.Result{}, err
	}
	if failing, err := r.failingPods(ctx, w); err != nil {
		return ctrl.Result{}, err
	} else if failing != "" {
		blocked = &Blocked{Reason: ReasonPodsFailing, Message: failing, Degraded: true}
	}
	switch {
	case blocked != nil:
		setBlocked(status, gen, blocked)
	case ready:
		SetCondition(status, gen, commonv1alpha1.ConditionAvailable, metav1.ConditionTrue, ReasonAvailable, w.Component+" is ready")
		SetCondition(status, gen, commonv1alpha1.ConditionProgressing, metav1.ConditionFalse, ReasonAvailable, "the rollout is complete")
		SetCondition(status, gen, commonv1alpha1.ConditionDegraded, metav1.ConditionFalse, ReasonNoProblem, "no problem seen")
		status.Version = r.Version
	default:
		SetCondition(status, gen, commonv1alpha1.ConditionAvailable, metav1.ConditionFalse, ReasonRollingOut, progress)
		SetCondition(status, gen, commonv1alpha1.ConditionProgressing, metav1.ConditionTrue, ReasonRollingOut, progress)
		SetCondition(status, gen, commonv1alpha1.ConditionDegraded, metav1.ConditionFalse, ReasonNoProblem, "no problem seen")
	}
	return ctrl.Result{RequeueAfter: requeue}, r.patchStatus(ctx, obj, before)
}

func setBlocked(status *commonv1alpha1.ComponentStatus, gen int64, b *Blocked) {
	SetCondition(status, gen, commonv1alpha1.ConditionAvailable, metav1.ConditionFalse, b.Reason, b.Message)
	if b.Degraded {
		SetCondition(status, gen, commonv1alpha1.ConditionProgressing, metav1.ConditionFalse, b.Reason, b.Message)
		SetCondition(status, gen, commonv1alpha1.ConditionDegraded, metav1.ConditionTrue, b.Reason, b.Message)
		return
	}
	SetCondition(status, gen, commonv1alpha1.ConditionProgressing, metav1.ConditionTrue, b.Reason, b.Message)
	SetCondition(status, gen, commonv1alpha1.ConditionDegraded, metav1.ConditionFalse, ReasonNoProblem, "no problem seen")
}

// ensureAccount makes the pods' ServiceAccount (unless spec.common names
// one) and grants it the component's rules.
func (r *Reconciler[T]) ensureAccount(ctx context.Context, obj T, w *Workload) error {
	if obj.GetComponentSpec().Common.ServiceAccountName == "" {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: obj.GetNamespace(), Name: w.Name}}
		if _, err := controllerutil.CreateOrPatch(ctx, r.Client, sa, func() error {
			sa.Labels = w.labels()
			return controllerutil.SetControllerReference(obj, sa, r.Scheme())
		}); err != nil {
			return fmt.Errorf("failed to ensure ServiceAccount %s/%s: %w", sa.Namespace, sa.Name, err)
		}
	}
	wantRole, wantBinding := w.RenderRBAC(r.Rules, r.Kind)
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: wantRole.Name}}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: wantBinding.Name}}
	ensure := []clusterScoped{
		{role, func() {
			role.Labels, role.Annotations, role.Rules = wantRole.Labels, wantRole.Annotations, wantRole.Rules
		}},
		{binding, func() {
			binding.Labels, binding.Annotations, binding.Subjects = wantBinding.Labels, wantBinding.Annotations, wantBinding.Subjects
			binding.RoleRef = wantBinding.RoleRef // immutable, and always the same
		}},
	}
	if r.Policy != nil {
		wantPolicy, wantPolicyBinding := w.RenderPolicy(r.Policy, r.Kind)
		policy := &admissionregistrationv1.ValidatingAdmissionPolicy{ObjectMeta: metav1.ObjectMeta{Name: wantPolicy.Name}}
		policyBinding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: wantPolicyBinding.Name}}
		ensure = append(ensure,
			clusterScoped{policy, func() {
				policy.Labels, policy.Annotations, policy.Spec = wantPolicy.Labels, wantPolicy.Annotations, wantPolicy.Spec
			}},
			clusterScoped{policyBinding, func() {
				policyBinding.Labels, policyBinding.Annotations, policyBinding.Spec = wantPolicyBinding.Labels, wantPolicyBinding.Annotations, wantPolicyBinding.Spec
			}})
	}
	for _, e := range ensure {
		if _, err := controllerutil.CreateOrPatch(ctx, r.Client, e.obj, func() error { e.mutate(); return nil }); err != nil {
			return fmt.Errorf("failed to ensure %T %s: %w", e.obj, e.obj.GetName(), err)
		}
	}
	return nil
}

// clusterScoped is a cluster-scoped object of a component's and how to
// make it what the component wants.
type clusterScoped struct {
	obj    client.Object
	mutate func()
}

// ensureWorkload makes the Deployment or DaemonSet current and says whether
// every pod of the current version is available, and if not how far it is.
func (r *Reconciler[T]) ensureWorkload(ctx context.Context, obj T, w *Workload) (bool, string, error) {
	if w.DaemonSet {
		want := w.RenderDaemonSet()
		ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: want.Namespace, Name: want.Name}}
		if _, err := controllerutil.CreateOrPatch(ctx, r.Client, ds, func() error {
			ds.Labels = want.Labels
			if ds.Spec.Selector == nil { // immutable once made
				ds.Spec.Selector = want.Spec.Selector
			}
			ds.Spec.Template, ds.Spec.UpdateStrategy = want.Spec.Template, want.Spec.UpdateStrategy
			return controllerutil.SetControllerReference(obj, ds, r.Scheme())
		}); err != nil {
			return false, "", fmt.Errorf("failed to ensure DaemonSet %s/%s: %w", ds.Namespace, ds.Name, err)
		}
		s := ds.Status
		ready := s.ObservedGeneration >= ds.Generation && s.UpdatedNumberScheduled == s.DesiredNumberScheduled &&
			s.NumberAvailable == s.DesiredNumberScheduled && s.NumberUnavailable == 0
		return ready, fmt.Sprintf("%d of %d nodes run the current version and are available", min(s.UpdatedNumberScheduled, s.NumberAvailable), s.DesiredNumberScheduled), nil
	}
	want := w.RenderDeployment()
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
		return false, "", fmt.Errorf("failed to ensure Deployment %s/%s: %w", dep.Namespace, dep.Name, err)
	}
	replicas := *dep.Spec.Replicas
	s := dep.Status
	ready := s.ObservedGeneration >= dep.Generation && s.UpdatedReplicas == replicas && s.AvailableReplicas == replicas && s.Replicas == replicas
	return ready, fmt.Sprintf("%d of %d replicas of the current version are available", min(s.UpdatedReplicas, s.AvailableReplicas), replicas), nil
}

// failingPods describes pods of the workload that cannot start, or "".
func (r *Reconciler[T]) failingPods(ctx context.Context, w *Workload) (string, error) {
	var pods corev1.PodList
	if err := r.List(ctx, &pods, client.InNamespace(w.Owner.GetNamespace()), client.MatchingLabels{LabelApp: w.Name}); err != nil {
		return "", fmt.Errorf("failed to list the pods of %s: %w", w.Name, err)
	}
	var problems []string
	for _, p := range pods.Items {
		for _, c := range p.Status.ContainerStatuses {
			if wt := c.State.Waiting; wt != nil && failingReasons[wt.Reason] {
				problems = append(problems, fmt.Sprintf("pod %s: container %s: %s: %s", p.Name, c.Name, wt.Reason, wt.Message))
			}
		}
	}
	if len(problems) == 0 {
		return "", nil
	}
	if len(problems) > 3 {
		problems = append(problems[:3], fmt.Sprintf("and %d more", len(problems)-3))
	}
	return strings.Join(problems, "; "), nil
}

// failingReasons are container waiting reasons that do not resolve by waiting.
var failingReasons = map[string]bool{"ErrImagePull": true, "ImagePullBackOff": true, "InvalidImageName": true,
	"CrashLoopBackOff": true, "CreateContainerConfigError": true, "CreateContainerError": true, "ErrImageNeverPull": true}

// cleanup removes what the operator made for a deleted resource, then its finalizer.
func (r *Reconciler[T]) cleanup(ctx context.Context, obj T) error {
	if !controllerutil.ContainsFinalizer(obj, Finalizer) {
		return nil
	}
	ns, name := obj.GetNamespace(), obj.GetName()
	objs := []client.Object{
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}},
		&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: ClusterScopedName(obj)}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: ClusterScopedName(obj)}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}},
		&admissionregistrationv1.ValidatingAdmissionPolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: ClusterScopedName(obj)}},
		&admissionregistrationv1.ValidatingAdmissionPolicy{ObjectMeta: metav1.ObjectMeta{Name: ClusterScopedName(obj)}},
	}
	var errs []error
	for _, o := range objs {
		if err := r.deleteOwned(ctx, obj, o); err != nil {
			errs = append(errs, err)
		}
	}
	for _, a := range r.Addons {
		if err := a.Cleanup(ctx, obj); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	controllerutil.RemoveFinalizer(obj, Finalizer)
	if err := r.Update(ctx, obj); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("failed to remove the finalizer of %s %s/%s: %w", r.Kind, ns, name, err)
	}
	return nil
}

// deleteOwned deletes o if this resource made it: namespaced objects by
// owner reference, cluster-scoped ones by the owner annotation.
func (r *Reconciler[T]) deleteOwned(ctx context.Context, owner T, o client.Object) error {
	if err := r.Get(ctx, client.ObjectKeyFromObject(o), o); err != nil {
		if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
			return nil
		}
		return fmt.Errorf("failed to get %T %s: %w", o, o.GetName(), err)
	}
	if !OwnedBy(o, r.Kind, owner) {
		return nil
	}
	if err := r.Delete(ctx, o, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("failed to delete %T %s: %w", o, o.GetName(), err)
	}
	return nil
}

// OwnedBy: o was made for owner (of kind).
func OwnedBy(o client.Object, kind string, owner metav1.Object) bool {
	if o.GetAnnotations()[AnnotationOwner] == fmt.Sprintf("%s/%s/%s", kind, owner.GetNamespace(), owner.GetName()) {
		return true
	}
	for _, ref := range o.GetOwnerReferences() {
		if ref.UID == owner.GetUID() {
			return true
		}
	}
	return false
}

// SetCondition sets a condition of a deployment resource's status.
func SetCondition(s *commonv1alpha1.ComponentStatus, gen int64, typ string, st metav1.ConditionStatus, reason, msg string) {
	s.ObservedGeneration = gen
	meta.SetStatusCondition(&s.Conditions, metav1.Condition{Type: typ, Status: st, Reason: reason, Message: msg, ObservedGeneration: gen})
}

func (r *Reconciler[T]) patchStatus(ctx context.Context, obj, before T) error {
	if equality.Semantic.DeepEqual(obj.GetComponentStatus(), before.GetComponentStatus()) {
		return nil
	}
	if err := r.Status().Patch(ctx, obj, client.MergeFrom(before)); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("failed to update the status of %s %s/%s: %w", r.Kind, obj.GetNamespace(), obj.GetName(), err)
	}
	return nil
}

// SetupWithManager watches the resources, what they own (drift is
// corrected), their cluster-scoped objects and the kinds they wait for.
func (r *Reconciler[T]) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).
		For(r.NewObject()).
		Owns(&appsv1.Deployment{}).
		Owns(&appsv1.DaemonSet{}).
		Owns(&corev1.ServiceAccount{}).
		Owns(&corev1.Service{}).
		Owns(&corev1.Secret{}).
		Named(strings.ToLower(r.Kind))
	byAnnotation := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []ctrl.Request {
		kind, rest, ok := strings.Cut(o.GetAnnotations()[AnnotationOwner], "/")
		ns, name, ok2 := strings.Cut(rest, "/")
		if !ok || !ok2 || kind != r.Kind {
			return nil
		}
		return []ctrl.Request{{NamespacedName: client.ObjectKey{Namespace: ns, Name: name}}}
	})
	b = b.Watches(&rbacv1.ClusterRole{}, byAnnotation).Watches(&rbacv1.ClusterRoleBinding{}, byAnnotation)
	// A pod that cannot pull its image changes the Degraded condition.
	// A pod that cannot pull its image or crash-loops changes the Degraded
	// condition. (The operator's cache holds only the pods it labelled.)
	b = b.Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []ctrl.Request {
		if o.GetLabels()[LabelManagedBy] != ManagedBy || o.GetLabels()[LabelApp] == "" {
			return nil
		}
		return []ctrl.Request{{NamespacedName: client.ObjectKey{Namespace: o.GetNamespace(), Name: o.GetLabels()[LabelApp]}}}
	}))
	for _, w := range append([]client.Object{&corev1.Namespace{}}, r.Watches...) {
		b = b.Watches(w, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []ctrl.Request {
			return r.all(ctx)
		}))
	}
	return b.Complete(r)
}

// all lists every resource of the kind, to requeue them when what they wait for changes.
func (r *Reconciler[T]) all(ctx context.Context) []ctrl.Request {
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

// LabelPodSecurityEnforce is Pod Security admission's enforce label.
const LabelPodSecurityEnforce = "pod-security.kubernetes.io/enforce"

// privilegedNamespace refuses a namespace whose Pod Security level would
// reject the component's pods: the workload would never get a pod, and
// the reason would only show in its ReplicaSet's or DaemonSet's events.
func privilegedNamespace(ctx context.Context, c client.Client, name string) (*Blocked, error) {
	var ns corev1.Namespace
	if err := c.Get(ctx, client.ObjectKey{Name: name}, &ns); err != nil {
		return nil, fmt.Errorf("failed to get namespace %s: %w", name, err)
	}
	level, set := ns.Labels[LabelPodSecurityEnforce]
	if !set || level == "privileged" {
		return nil, nil
	}
	return &Blocked{Reason: ReasonNamespaceNotPrivileged, Degraded: true,
		Message: fmt.Sprintf("namespace %s enforces Pod Security level %q, and Kontrail's components run in the host network (the vrouter agent privileged): run them in a namespace labelled %s=privileged",
			name, level, LabelPodSecurityEnforce)}, nil
}
