// Package components embeds the ClusterRoles controller-gen renders from
// each component's RBAC markers, so that the operator grants each
// component exactly what its code declares.
package components

import (
	"embed"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

//go:embed */role.yaml
var roles embed.FS

// Rules returns the rules of a component's generated ClusterRole
// ("apiserver", "controller", "kubemanager" or "vrouter").
func Rules(component string) ([]rbacv1.PolicyRule, error) {
	data, err := roles.ReadFile(component + "/role.yaml")
	if err != nil {
		return nil, fmt.Errorf("no generated role for component %q: %w", component, err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.Unmarshal(data, &role); err != nil {
		return nil, fmt.Errorf("failed to parse the generated role of %s: %w", component, err)
	}
	return role.Rules, nil
}
