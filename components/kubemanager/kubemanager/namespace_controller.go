package kubemanager

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
)

// LabelIsolatedNamespace, "true" on a namespace, gives its pods their
// default interface on the namespace's own default-podnetwork, as CN2 does.
const LabelIsolatedNamespace = "core.juniper.net/isolated-namespace"

// isolated says whether pods of a namespace use its own pod network.
func isolated(ns *corev1.Namespace) bool { return ns.Labels[LabelIsolatedNamespace] == "true" }

// NamespaceReconciler gives every isolated namespace its own pod network: a
// VirtualNetwork <pod network> in the namespace on the cluster's pod Subnets,
// so its pods' addresses come from the one cluster pool while their network,
// and so their routing instance, is the namespace's alone.
type NamespaceReconciler struct {
	client.Client
	Config *Config
}

// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch

// Reconcile makes or repairs an isolated namespace's pod network.
func (r *NamespaceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ns := &corev1.Namespace{}
	if err := r.Get(ctx, req.NamespacedName, ns); err != nil || !isolated(ns) || !ns.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	vn := &corev1alpha1.VirtualNetwork{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: r.Config.PodNetwork}}
	_, err := controllerutil.CreateOrPatch(ctx, r.Client, vn, func() error {
		if vn.Labels == nil {
			vn.Labels = map[string]string{}
		}
		vn.Labels["core.juniper.net/virtualnetwork"] = r.Config.PodNetwork
		vn.Labels[corev1alpha1.LabelClusterName] = r.Config.ClusterName
		vn.Spec.V4SubnetReference, vn.Spec.V6SubnetReference = nil, nil
		if r.Config.PodV4Subnet != "" {
			vn.Spec.V4SubnetReference = &corev1alpha1.ResourceReference{Kind: "Subnet", Namespace: r.Config.Namespace, Name: r.Config.PodNetwork + "-v4"}
		}
		if r.Config.PodV6Subnet != "" {
			vn.Spec.V6SubnetReference = &corev1alpha1.ResourceReference{Kind: "Subnet", Namespace: r.Config.Namespace, Name: r.Config.PodNetwork + "-v6"}
		}
		return nil
	})
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("failed to ensure the pod network of isolated namespace %s: %w", ns.Name, err)
	}
	return ctrl.Result{}, nil
}

// SetupWithManager watches namespaces and their pod networks.
func (r *NamespaceReconciler) SetupWithManager(mgr ctrl.Manager) error {
	podNetwork := predicate.NewPredicateFuncs(func(o client.Object) bool { return o.GetName() == r.Config.PodNetwork })
	return ctrl.NewControllerManagedBy(mgr).
		For(&corev1.Namespace{}).
		Watches(&corev1alpha1.VirtualNetwork{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []ctrl.Request {
			return []ctrl.Request{{NamespacedName: client.ObjectKey{Name: o.GetNamespace()}}}
		}), builder.WithPredicates(podNetwork)).
		Named("namespace").
		Complete(r)
}
