package kubemanager

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// crossNamespaceProblem says why namespace from may not use what (a
// kind, "NetworkAttachmentDefinition" or "VirtualNetwork") of another
// namespace, or "" when it may. The service network is nobody's to attach
// or map onto; a network of an isolated namespace is its own; beyond that
// the administrator's CrossNamespaceNetworks policy decides (Allow, CN2's,
// by default; Deny but for SharedNamespaces).
func crossNamespaceProblem(ctx context.Context, c client.Reader, cfg *Config, from, kind string, what types.NamespacedName) (string, error) {
	if kind == "VirtualNetwork" && what.Namespace == cfg.Namespace && what.Name == cfg.ServiceNetwork {
		return fmt.Sprintf("VirtualNetwork %s is the cluster's service network: no pod attaches to it", what), nil
	}
	if what.Namespace == from {
		return "", nil
	}
	ns := &corev1.Namespace{}
	if err := c.Get(ctx, types.NamespacedName{Name: what.Namespace}, ns); err != nil && !apierrors.IsNotFound(err) {
		return "", fmt.Errorf("failed to get namespace %s: %w", what.Namespace, err)
	}
	if isolated(ns) {
		return fmt.Sprintf("%s %s is in namespace %s, which is isolated (label %s): its networks are its own, not namespace %s's",
			kind, what, what.Namespace, LabelIsolatedNamespace, from), nil
	}
	if cfg.CrossNamespaceNetworks == CrossNamespaceDeny && !slices.Contains(cfg.SharedNamespaces, what.Namespace) {
		return fmt.Sprintf("%s %s is in another namespace than %s: the Kubemanager's spec.crossNamespaceNetworks.policy is Deny and %s is not among its sharedNamespaces %v",
			kind, what, from, what.Namespace, cfg.SharedNamespaces), nil
	}
	return "", nil
}
