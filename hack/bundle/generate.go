package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// Options say what to render and where.
type Options struct {
	ConfigDir, OutDir, Dockerfile string
	Version, Package, Channels    string
	DefaultChannel                string
}

// Bundle is the rendered bundle.
type Bundle struct {
	CSV       *operatorsv1alpha1.ClusterServiceVersion
	CRDs      []*apiextensionsv1.CustomResourceDefinition
	Scorecard *unstructured.Unstructured
}

// Generate renders o.ConfigDir and builds the bundle from it.
func Generate(o Options) (*Bundle, error) {
	objs, err := render(o.ConfigDir)
	if err != nil {
		return nil, err
	}
	b := &Bundle{}
	var (
		deployments []*appsv1.Deployment
		roles       = map[string]*rbacv1.ClusterRole{}
		nsRoles     = map[string]*rbacv1.Role{}
		bindings    []*rbacv1.ClusterRoleBinding
		nsBindings  []*rbacv1.RoleBinding
		samples     []*unstructured.Unstructured
	)
	for _, u := range objs {
		switch u.GetKind() {
		case "ClusterServiceVersion":
			b.CSV = &operatorsv1alpha1.ClusterServiceVersion{}
			err = convert(u, b.CSV)
		case "CustomResourceDefinition":
			crd := &apiextensionsv1.CustomResourceDefinition{}
			err = convert(u, crd)
			b.CRDs = append(b.CRDs, crd)
		case "Deployment":
			d := &appsv1.Deployment{}
			err = convert(u, d)
			deployments = append(deployments, d)
		case "ClusterRole":
			r := &rbacv1.ClusterRole{}
			err = convert(u, r)
			roles[r.Name] = r
		case "Role":
			r := &rbacv1.Role{}
			err = convert(u, r)
			nsRoles[r.Name] = r
		case "ClusterRoleBinding":
			r := &rbacv1.ClusterRoleBinding{}
			err = convert(u, r)
			bindings = append(bindings, r)
		case "RoleBinding":
			r := &rbacv1.RoleBinding{}
			err = convert(u, r)
			nsBindings = append(nsBindings, r)
		case "Configuration":
			b.Scorecard = u
		case "Namespace", "ServiceAccount":
			// OLM makes the namespace (the OperatorGroup's) and the
			// service accounts the install strategy names.
		default:
			samples = append(samples, u)
		}
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", u.GetKind(), u.GetName(), err)
		}
	}
	if b.CSV == nil || len(deployments) != 1 || b.Scorecard == nil {
		return nil, fmt.Errorf("%s must render one ClusterServiceVersion base, one Deployment and the scorecard Configuration", o.ConfigDir)
	}
	sort.Slice(b.CRDs, func(i, j int) bool { return b.CRDs[i].Name < b.CRDs[j].Name })
	owned := map[string]bool{}
	for _, crd := range b.CRDs {
		owned[crd.Spec.Group+"/"+crd.Spec.Names.Kind] = true
	}
	for _, s := range samples {
		if !owned[s.GroupVersionKind().Group+"/"+s.GetKind()] {
			return nil, fmt.Errorf("%s %s is neither a sample of an owned CRD nor something a bundle carries", s.GetKind(), s.GetName())
		}
	}

	csv := b.CSV
	csv.Name = o.Package + ".v" + o.Version
	csv.Namespace = ""
	csv.Spec.Version.Version, err = parseVersion(o.Version)
	if err != nil {
		return nil, err
	}
	dep := deployments[0]
	csv.Annotations["containerImage"] = dep.Spec.Template.Spec.Containers[0].Image
	examples, err := json.MarshalIndent(sampleObjects(samples), "", "  ")
	if err != nil {
		return nil, err
	}
	csv.Annotations["alm-examples"] = string(examples)
	csv.Spec.CustomResourceDefinitions.Owned = nil
	for _, crd := range b.CRDs {
		csv.Spec.CustomResourceDefinitions.Owned = append(csv.Spec.CustomResourceDefinitions.Owned, describe(crd))
	}
	sa := dep.Spec.Template.Spec.ServiceAccountName
	strategy := operatorsv1alpha1.StrategyDetailsDeployment{
		DeploymentSpecs: []operatorsv1alpha1.StrategyDeploymentSpec{{Name: dep.Name, Spec: dep.Spec, Label: dep.Labels}},
	}
	if rules := clusterRules(sa, dep.Namespace, roles, bindings); len(rules) > 0 {
		strategy.ClusterPermissions = []operatorsv1alpha1.StrategyDeploymentPermissions{{ServiceAccountName: sa, Rules: rules}}
	}
	if rules := namespaceRules(sa, dep.Namespace, nsRoles, nsBindings); len(rules) > 0 {
		strategy.Permissions = []operatorsv1alpha1.StrategyDeploymentPermissions{{ServiceAccountName: sa, Rules: rules}}
	}
	csv.Spec.InstallStrategy = operatorsv1alpha1.NamedInstallStrategy{StrategyName: operatorsv1alpha1.InstallStrategyNameDeployment, StrategySpec: strategy}
	return b, nil
}

// render builds a kustomization with the kustomize API.
func render(dir string) ([]*unstructured.Unstructured, error) {
	resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("failed to render %s: %w", dir, err)
	}
	var out []*unstructured.Unstructured
	for _, r := range resMap.Resources() {
		data, err := r.MarshalJSON()
		if err != nil {
			return nil, err
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(data); err != nil { // JSON numbers as int64, as the API machinery wants
			return nil, fmt.Errorf("%s: %w", r.CurId(), err)
		}
		out = append(out, u)
	}
	return out, nil
}

func convert(u *unstructured.Unstructured, into any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, into, true)
}

// clusterRules are the rules of every ClusterRole bound to the service account.
func clusterRules(sa, ns string, roles map[string]*rbacv1.ClusterRole, bindings []*rbacv1.ClusterRoleBinding) []rbacv1.PolicyRule {
	var rules []rbacv1.PolicyRule
	for _, b := range bindings {
		if binds(b.Subjects, sa, ns) && b.RoleRef.Kind == "ClusterRole" && roles[b.RoleRef.Name] != nil {
			rules = append(rules, roles[b.RoleRef.Name].Rules...)
		}
	}
	return rules
}

// namespaceRules are the rules of every Role bound to the service account in its namespace.
func namespaceRules(sa, ns string, roles map[string]*rbacv1.Role, bindings []*rbacv1.RoleBinding) []rbacv1.PolicyRule {
	var rules []rbacv1.PolicyRule
	for _, b := range bindings {
		if binds(b.Subjects, sa, ns) && b.RoleRef.Kind == "Role" && roles[b.RoleRef.Name] != nil {
			rules = append(rules, roles[b.RoleRef.Name].Rules...)
		}
	}
	return rules
}

func binds(subjects []rbacv1.Subject, sa, ns string) bool {
	for _, s := range subjects {
		if s.Kind == rbacv1.ServiceAccountKind && s.Name == sa && s.Namespace == ns {
			return true
		}
	}
	return false
}

// sampleObjects strips what the samples' kustomization added, leaving what a user would apply.
func sampleObjects(samples []*unstructured.Unstructured) []map[string]any {
	out := make([]map[string]any, 0, len(samples))
	for _, s := range samples {
		s = s.DeepCopy()
		s.SetNamespace("")
		out = append(out, s.Object)
	}
	return out
}

// describe is an owned CRD's description: the storage version's kind,
// its schema's descriptions, a descriptor per top-level spec and status
// field, and for the deployment resources what they create.
func describe(crd *apiextensionsv1.CustomResourceDefinition) operatorsv1alpha1.CRDDescription {
	var version apiextensionsv1.CustomResourceDefinitionVersion
	for _, v := range crd.Spec.Versions {
		if v.Storage {
			version = v
		}
	}
	d := operatorsv1alpha1.CRDDescription{Name: crd.Name, Version: version.Name, Kind: crd.Spec.Names.Kind,
		DisplayName: words(crd.Spec.Names.Kind)}
	if version.Schema == nil || version.Schema.OpenAPIV3Schema == nil {
		return d
	}
	schema := version.Schema.OpenAPIV3Schema
	d.Description = firstSentence(schema.Description)
	for _, name := range sortedKeys(schema.Properties["spec"].Properties) {
		p := schema.Properties["spec"].Properties[name]
		d.SpecDescriptors = append(d.SpecDescriptors, operatorsv1alpha1.SpecDescriptor{Path: name, DisplayName: words(name),
			Description: firstSentence(p.Description)})
	}
	for _, name := range sortedKeys(schema.Properties["status"].Properties) {
		p := schema.Properties["status"].Properties[name]
		sd := operatorsv1alpha1.StatusDescriptor{Path: name, DisplayName: words(name), Description: firstSentence(p.Description)}
		if name == "conditions" {
			sd.XDescriptors = []string{"urn:alm:descriptor:io.kubernetes.conditions"}
		}
		d.StatusDescriptors = append(d.StatusDescriptors, sd)
	}
	switch crd.Spec.Group {
	case "configplane.juniper.net":
		d.Resources = workloadResources("Deployment")
	case "dataplane.juniper.net":
		d.Resources = workloadResources("DaemonSet")
	}
	return d
}

func workloadResources(kind string) []operatorsv1alpha1.APIResourceReference {
	return []operatorsv1alpha1.APIResourceReference{{Name: "", Kind: kind, Version: "v1"}, {Name: "", Kind: "ServiceAccount", Version: "v1"},
		{Name: "", Kind: "ClusterRole", Version: "v1"}, {Name: "", Kind: "ClusterRoleBinding", Version: "v1"}}
}

func sortedKeys(m map[string]apiextensionsv1.JSONSchemaProps) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var wordBoundary = regexp.MustCompile(`([a-z0-9])([A-Z])`)

// words turns a Go or JSON name into words: "autonomousSystem" -> "Autonomous System".
func words(name string) string {
	s := wordBoundary.ReplaceAllString(name, "$1 $2")
	return strings.ToUpper(s[:1]) + s[1:]
}

func firstSentence(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if i := strings.Index(s, ". "); i > 0 {
		return s[:i+1]
	}
	return s
}

// Write writes the bundle's manifests, metadata, scorecard config and Dockerfile.
func (b *Bundle) Write(o Options) error {
	manifests, metadata, scorecard := filepath.Join(o.OutDir, "manifests"), filepath.Join(o.OutDir, "metadata"), filepath.Join(o.OutDir, "tests", "scorecard")
	if err := os.RemoveAll(o.OutDir); err != nil {
		return err
	}
	for _, d := range []string{manifests, metadata, scorecard} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	files := map[string]any{filepath.Join(manifests, o.Package+".clusterserviceversion.yaml"): b.CSV,
		filepath.Join(scorecard, "config.yaml"): b.Scorecard.Object}
	for _, crd := range b.CRDs {
		files[filepath.Join(manifests, crd.Spec.Group+"_"+crd.Spec.Names.Plural+".yaml")] = crd
	}
	for path, obj := range files {
		data, err := yaml.Marshal(obj)
		if err != nil {
			return fmt.Errorf("failed to marshal %s: %w", path, err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return err
		}
	}
	labels := b.annotations(o)
	ann, err := yaml.Marshal(map[string]any{"annotations": labels})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(metadata, "annotations.yaml"), ann, 0o644); err != nil {
		return err
	}
	var df strings.Builder
	df.WriteString("# The OLM bundle image; rendered by hack/bundle (make bundle).\nFROM scratch\n\n")
	for _, k := range sortedStrings(labels) {
		fmt.Fprintf(&df, "LABEL %s=%s\n", k, labels[k])
	}
	fmt.Fprintf(&df, "\nCOPY %s/manifests /manifests/\nCOPY %s/metadata /metadata/\nCOPY %s/tests/scorecard /tests/scorecard/\n", o.OutDir, o.OutDir, o.OutDir)
	return os.WriteFile(o.Dockerfile, []byte(df.String()), 0o644)
}

// annotations are the bundle's metadata, also the image's labels.
func (b *Bundle) annotations(o Options) map[string]string {
	return map[string]string{
		"operators.operatorframework.io.bundle.mediatype.v1":       "registry+v1",
		"operators.operatorframework.io.bundle.manifests.v1":       "manifests/",
		"operators.operatorframework.io.bundle.metadata.v1":        "metadata/",
		"operators.operatorframework.io.bundle.package.v1":         o.Package,
		"operators.operatorframework.io.bundle.channels.v1":        o.Channels,
		"operators.operatorframework.io.bundle.channel.default.v1": o.DefaultChannel,
		"operators.operatorframework.io.test.mediatype.v1":         "scorecard+v1",
		"operators.operatorframework.io.test.config.v1":            "tests/scorecard/",
	}
}

func sortedStrings(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
