package tests

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// docs/security.md's RBAC tables are the generated roles, row for row.
func TestSecurityDocMatchesGeneratedRoles(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "security.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(strings.Trim(line, "| "), "|")
		if len(cells) != 5 || strings.HasPrefix(strings.TrimSpace(cells[0]), "---") || strings.TrimSpace(cells[0]) == "Component" {
			continue
		}
		documented[rowKey(strings.TrimSpace(cells[0]), strings.Trim(strings.TrimSpace(cells[1]), `"`), split(cells[2]), split(cells[3]))] = true
	}
	generated := map[string]bool{}
	roles := map[string]string{"operator": "config/rbac/role.yaml"}
	for _, c := range []string{"apiserver", "controller", "kubemanager", "vrouter"} {
		roles[c] = "config/components/" + c + "/role.yaml"
	}
	for component, file := range roles {
		data, err := os.ReadFile(filepath.Join("..", file))
		if err != nil {
			t.Fatal(err)
		}
		var role rbacv1.ClusterRole
		if err := yaml.Unmarshal(data, &role); err != nil {
			t.Fatal(err)
		}
		for _, r := range role.Rules {
			for _, g := range r.APIGroups {
				generated[rowKey(component, g, r.Resources, r.Verbs)] = true
			}
		}
	}
	for k := range generated {
		if !documented[k] {
			t.Errorf("generated but not in docs/security.md: %s", k)
		}
	}
	for k := range documented {
		if !generated[k] {
			t.Errorf("in docs/security.md but not generated: %s", k)
		}
	}
}

func split(cell string) []string {
	var out []string
	for _, s := range strings.Split(cell, ",") {
		out = append(out, strings.TrimSpace(s))
	}
	return out
}

func rowKey(component, group string, resources, verbs []string) string {
	r, v := append([]string(nil), resources...), append([]string(nil), verbs...)
	sort.Strings(r)
	sort.Strings(v)
	return component + " | " + group + " | " + strings.Join(r, ",") + " | " + strings.Join(v, ",")
}
