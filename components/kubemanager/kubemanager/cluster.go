package kubemanager

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/yaml"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
)

//go:embed crds/network-attachment-definitions.yaml
var nadCRD []byte

// +kubebuilder:rbac:groups=apiextensions.k8s.io,resources=customresourcedefinitions,verbs=get;create
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch;create

// EnsureNADCRD creates the NetworkAttachmentDefinition CRD when the cluster
// lacks it, and waits until it is served. It never updates or deletes it:
// the CRD belongs to the cluster, not to Kontrail.
func EnsureNADCRD(ctx context.Context, c client.Client) error {
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.Unmarshal(nadCRD, crd); err != nil {
		return fmt.Errorf("failed to read the embedded NetworkAttachmentDefinition CRD: %w", err)
	}
	if err := c.Create(ctx, crd); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("failed to create the NetworkAttachmentDefinition CRD: %w", err)
	}
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(crd), crd); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		for _, cond := range crd.Status.Conditions {
			if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
}

// ClusterNetworkReconciler keeps the cluster's namespace and its default
// pod and service networks: made at start, repaired when changed or deleted.
type ClusterNetworkReconciler struct {
	client.Client
	Config *Config
}

// +kubebuilder:rbac:groups=core.contrail.juniper.net,resources=virtualnetworks;subnets,verbs=get;list;watch;create;update;patch

// Reconcile ensures the default networks, whatever the request.
func (r *ClusterNetworkReconciler) Reconcile(ctx context.Context, _ ctrl.Request) (ctrl.Result, error) {
	return ctrl.Result{}, r.Ensure(ctx)
}

// Ensure makes or repairs the cluster namespace and default networks.
func (r *ClusterNetworkReconciler) Ensure(ctx context.Context) error {
	// Read first: a create answered AlreadyExists is still a write the
	// apiserver pays for, and this runs at every change of the networks.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: r.Config.Namespace}}
	if err := r.Get(ctx, client.ObjectKeyFromObject(ns), ns); apierrors.IsNotFound(err) {
		if err := r.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("failed to create namespace %s: %w", ns.Name, err)
		}
	} else if err != nil {
		return fmt.Errorf("failed to read namespace %s: %w", ns.Name, err)
	}
	for _, n := range []struct {
		name, v4, v6 string
		virtual      bool
	}{
		{r.Config.PodNetwork, r.Config.PodV4Subnet, r.Config.PodV6Subnet, false},
		// Cluster IPs are virtual, and the first is the kubernetes Service's: no gateway.
		{r.Config.ServiceNetwork, r.Config.ServiceV4Subnet, r.Config.ServiceV6Subnet, true},
	} {
		if err := r.ensureNetwork(ctx, n.name, n.v4, n.v6, n.virtual); err != nil {
			return err
		}
	}
	return nil
}

func (r *ClusterNetworkReconciler) ensureNetwork(ctx context.Context, name, v4, v6 string, virtual bool) error {
	var refs [2]*corev1alpha1.ResourceReference
	for i, s := range []struct{ suffix, cidr string }{{"-v4", v4}, {"-v6", v6}} {
		if s.cidr == "" {
			continue
		}
		sn := &corev1alpha1.Subnet{ObjectMeta: metav1.ObjectMeta{Namespace: r.Config.Namespace, Name: name + s.suffix}}
		if _, err := controllerutil.CreateOrPatch(ctx, r.Client, sn, func() error {
			if sn.Labels == nil {
				sn.Labels = map[string]string{}
			}
			sn.Labels[corev1alpha1.LabelSubnetVirtualNetwork] = name
			sn.Labels[corev1alpha1.LabelClusterName] = r.Config.ClusterName
			sn.Spec.CIDR = s.cidr // immutable: a changed CIDR is refused, and the error says so
			sn.Spec.DisableDefaultGateway = virtual
			return nil
		}); err != nil {
			return fmt.Errorf("failed to ensure Subnet %s/%s: %w", sn.Namespace, sn.Name, err)
		}
		refs[i] = &corev1alpha1.ResourceReference{Name: sn.Name, Namespace: sn.Namespace, Kind: "Subnet",
			APIVersion: corev1alpha1.GroupVersion.String(), UID: sn.UID}
	}
	vn := &corev1alpha1.VirtualNetwork{ObjectMeta: metav1.ObjectMeta{Namespace: r.Config.Namespace, Name: name}}
	if _, err := controllerutil.CreateOrPatch(ctx, r.Client, vn, func() error {
		if vn.Labels == nil {
			vn.Labels = map[string]string{}
		}
		// CN2's label, by which the default VirtualNetworkRouters select them.
		vn.Labels["core.juniper.net/virtualnetwork"] = name
		vn.Labels[corev1alpha1.LabelClusterName] = r.Config.ClusterName
		vn.Labels[corev1alpha1.LabelDefaultNetwork] = corev1alpha1.DefaultNetworkPod
		if virtual {
			vn.Labels[corev1alpha1.LabelDefaultNetwork] = corev1alpha1.DefaultNetworkService
		}
		vn.Spec.V4SubnetReference, vn.Spec.V6SubnetReference = refs[0], refs[1]
		// The pod network leaves the cluster with its node's address, as
		// CN2's default pod network does; cluster IPs go nowhere.
		vn.Spec.FabricSNAT = !virtual
		return nil
	}); err != nil {
		return fmt.Errorf("failed to ensure VirtualNetwork %s/%s: %w", vn.Namespace, vn.Name, err)
	}
	return nil
}

// SetupWithManager watches the default networks and their subnets.
func (r *ClusterNetworkReconciler) SetupWithManager(mgr ctrl.Manager) error {
	mine := predicate.NewPredicateFuncs(func(o client.Object) bool {
		return o.GetNamespace() == r.Config.Namespace && o.GetLabels()[corev1alpha1.LabelClusterName] == r.Config.ClusterName
	})
	// What Ensure sets is spec and labels: a status write (the pod
	// subnet's usage, after nearly every pod) is not a change to repair.
	changed := predicate.Or(predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{})
	return ctrl.NewControllerManagedBy(mgr).
		Named("clusternetwork").
		For(&corev1alpha1.VirtualNetwork{}, builder.WithPredicates(mine, changed)).
		Watches(&corev1alpha1.Subnet{}, handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []ctrl.Request {
			return []ctrl.Request{{NamespacedName: client.ObjectKey{Namespace: r.Config.Namespace, Name: r.Config.PodNetwork}}}
		}), builder.WithPredicates(mine, changed)).
		Complete(r)
}
