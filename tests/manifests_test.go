package tests

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

const repoRoot = ".."

// projectFile is the kubebuilder v4 PROJECT file, with the fields Kontrail uses.
type projectFile struct {
	Domain      string   `json:"domain"`
	Layout      []string `json:"layout"`
	Multigroup  bool     `json:"multigroup"`
	ProjectName string   `json:"projectName"`
	Repo        string   `json:"repo"`
	Version     string   `json:"version"`
	Resources   []struct {
		API struct {
			CRDVersion string `json:"crdVersion"`
			Namespaced bool   `json:"namespaced"`
		} `json:"api"`
		Domain   string `json:"domain"`
		Group    string `json:"group"`
		Kind     string `json:"kind"`
		Path     string `json:"path"`
		Version  string `json:"version"`
		Webhooks *struct {
			Defaulting     bool   `json:"defaulting"`
			Validation     bool   `json:"validation"`
			WebhookVersion string `json:"webhookVersion"`
		} `json:"webhooks"`
	} `json:"resources"`
}

// crdsIn reads every CRD in dir.
func crdsIn(t *testing.T, dir string) []apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs in %s: %v", dir, err)
	}
	var crds []apiextensionsv1.CustomResourceDefinition
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(data, &crd); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		crds = append(crds, crd)
	}
	return crds
}

// TestProjectListsEveryKind keeps PROJECT in step with the API: every CRD
// the repo generates has its resource entry, with the right scope and
// package path, and PROJECT names no kind that has no CRD.
func TestProjectListsEveryKind(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "PROJECT"))
	if err != nil {
		t.Fatal(err)
	}
	var project projectFile
	if err := yaml.UnmarshalStrict(data, &project); err != nil {
		t.Fatalf("PROJECT: %v", err)
	}
	if !project.Multigroup {
		t.Error("PROJECT must be multigroup")
	}
	listed := map[string]bool{}
	for _, r := range project.Resources {
		key := r.Group + "." + r.Domain + "/" + r.Version + "/" + r.Kind
		listed[key] = r.API.Namespaced
		if want := "github.com/kontrail/kontrail/api/" + r.Group + "/" + r.Version; r.Path != want {
			t.Errorf("PROJECT: %s has path %s, want %s", key, r.Path, want)
		}
	}
	generated := map[string]bool{}
	for _, crd := range crdsIn(t, filepath.Join(repoRoot, "config", "crd", "bases")) {
		for _, v := range crd.Spec.Versions {
			key := crd.Spec.Group + "/" + v.Name + "/" + crd.Spec.Names.Kind
			generated[key] = true
			namespaced, ok := listed[key]
			switch {
			case !ok:
				t.Errorf("PROJECT does not list %s", key)
			case namespaced != (crd.Spec.Scope == apiextensionsv1.NamespaceScoped):
				t.Errorf("PROJECT says %s namespaced=%v, the CRD's scope is %s", key, namespaced, crd.Spec.Scope)
			}
		}
	}
	for key := range listed {
		if !generated[key] {
			t.Errorf("PROJECT lists %s, which has no CRD in config/crd/bases", key)
		}
	}
}

// TestDefaultInstallRenders builds config/default with the kustomize API, as
// `kubectl apply -k config/default` does, and checks that it installs every
// CRD and the operator.
func TestDefaultInstallRenders(t *testing.T) {
	kustomizer := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resMap, err := kustomizer.Run(filesys.MakeFsOnDisk(), filepath.Join(repoRoot, "config", "default"))
	if err != nil {
		t.Fatalf("kustomize build config/default: %v", err)
	}
	var rendered []string
	for _, res := range resMap.Resources() {
		rendered = append(rendered, res.GetKind()+"/"+res.GetName())
	}
	for _, crd := range crdsIn(t, filepath.Join(repoRoot, "config", "crd", "bases")) {
		if want := "CustomResourceDefinition/" + crd.Name; !slices.Contains(rendered, want) {
			t.Errorf("config/default does not install %s (add it to config/crd/kustomization.yaml)", want)
		}
	}
	for _, want := range []string{"Namespace/kontrail-system", "Deployment/kontrail-controller-manager", "ServiceAccount/kontrail-controller-manager", "ClusterRole/kontrail-manager-role"} {
		if !slices.Contains(rendered, want) {
			t.Errorf("config/default does not render %s; it renders %v", want, rendered)
		}
	}
}
