package lab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/kontrail/kontrail/operator/controller/dataplane"
)

// AgentStateDir is where the vrouter agents keep their state on the
// (shared) host: a directory per node, which down removes.
const AgentStateDir = dataplane.StateDir

// AgentSocketDir holds the agents' CNI sockets, one per node's network
// namespace (agentapi.SocketPath).
const AgentSocketDir = dataplane.SocketDir

// How Kontrail's operator is installed.
const (
	// InstallDefault applies config/default, as `kubectl apply -k config/default`.
	InstallDefault = "default"
	// InstallBundle installs bundle/manifests the way OLM's install
	// strategy does: the CRDs, a ServiceAccount with exactly the CSV's
	// permissions and cluster permissions, the CSV's Deployment.
	InstallBundle = "bundle"
)

// OperatorNamespace is where the lab installs the operator (config/default's).
const OperatorNamespace = "kontrail-system"

// Install installs the operator (mode InstallDefault or InstallBundle),
// waits until it runs, applies the sample resources of config/samples
// (through the lab's kustomize overlay, which points the Vrouter's CNI
// dirs at the lab's) and waits until the four are Available.
func (l *Lab) Install(ctx context.Context, repo, mode string) error {
	dir := l.path("install")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	switch mode {
	case InstallDefault, "":
		if err := l.kubectl(ctx, nil, "apply", "--server-side", "-k", filepath.Join(repo, "config", "default")); err != nil {
			return err
		}
	case InstallBundle:
		manifests, err := bundleAsOLM(filepath.Join(repo, "bundle", "manifests"), OperatorNamespace)
		if err != nil {
			return err
		}
		file := filepath.Join(dir, "bundle.yaml")
		if err := os.WriteFile(file, manifests, 0o644); err != nil {
			return err
		}
		if err := l.kubectl(ctx, nil, "apply", "--server-side", "-f", file); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown install mode %q (want %s or %s)", mode, InstallDefault, InstallBundle)
	}
	if err := l.kubectl(ctx, nil, "-n", OperatorNamespace, "rollout", "status", "deployment", "--timeout=3m"); err != nil {
		return fmt.Errorf("the operator did not start: %w", err)
	}
	overlay, err := l.samplesOverlay(repo)
	if err != nil {
		return err
	}
	if err := l.kubectl(ctx, nil, "apply", "-k", overlay); err != nil {
		return err
	}
	return l.WaitAvailable(ctx, 5*time.Minute)
}

// Samples are the kinds and namespaces of config/samples' resources.
var Samples = []struct{ Resource, Namespace string }{
	{"apiservers.configplane.juniper.net", "contrail-system"},
	{"controllers.configplane.juniper.net", "contrail-system"},
	{"kubemanagers.configplane.juniper.net", "contrail"},
	{"vrouters.dataplane.juniper.net", "contrail"},
}

// WaitAvailable waits until every sample resource is Available.
func (l *Lab) WaitAvailable(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, s := range Samples {
		left := time.Until(deadline).Round(time.Second)
		if left < time.Second {
			left = time.Second
		}
		if err := l.kubectl(ctx, nil, "-n", s.Namespace, "wait", "--for=condition=Available", "--all", s.Resource,
			"--timeout="+left.String()); err != nil {
			out, _ := l.Kubectl(ctx, "-n", s.Namespace, "get", s.Resource, "-o", "yaml")
			return fmt.Errorf("%s in %s are not Available: %w\n%s", s.Resource, s.Namespace, err, out)
		}
	}
	return nil
}

// samplesOverlay writes the lab's kustomization over config/samples: the
// nodes' CNI dirs are the lab's (the nodes share this filesystem).
func (l *Lab) samplesOverlay(repo string) (string, error) {
	dir := l.path("install", "samples")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	samples, err := filepath.Rel(dir, filepath.Join(repo, "config", "samples"))
	if err != nil {
		return "", err
	}
	bin, conf := l.CNIDirs()
	kustomization := fmt.Sprintf(`# Written by kontrail-lab: config/samples with the lab's CNI dirs.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- %s
patches:
- target:
    kind: Vrouter
  patch: |
    - op: add
      path: /spec/cni/binPath
      value: %s
    - op: add
      path: /spec/cni/configPath
      value: %s
`, samples, bin, conf)
	return dir, os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(kustomization), 0o644)
}

// bundleAsOLM renders what OLM makes of the bundle in namespace: every
// manifest but the CSV (the CRDs), and from the CSV's install strategy the
// namespace, the ServiceAccount, a ClusterRole and binding per cluster
// permission, a Role and binding per permission, and the Deployments.
func bundleAsOLM(manifests, namespace string) ([]byte, error) {
	files, err := filepath.Glob(filepath.Join(manifests, "*.yaml"))
	if err != nil {
		return nil, err
	}
	var docs [][]byte
	var csv *operatorsv1alpha1.ClusterServiceVersion
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if strings.HasSuffix(f, ".clusterserviceversion.yaml") {
			csv = &operatorsv1alpha1.ClusterServiceVersion{}
			if err := yaml.UnmarshalStrict(data, csv); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			continue
		}
		docs = append(docs, data)
	}
	if csv == nil {
		return nil, fmt.Errorf("no ClusterServiceVersion in %s", manifests)
	}
	strategy := csv.Spec.InstallStrategy.StrategySpec
	objs := []any{&corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: namespace, Labels: map[string]string{
			// The operator runs in the host network (see config/manager).
			"pod-security.kubernetes.io/enforce": "privileged", "pod-security.kubernetes.io/warn": "restricted"}}}}
	accounts := map[string]bool{}
	for _, d := range strategy.DeploymentSpecs {
		accounts[d.Spec.Template.Spec.ServiceAccountName] = true
	}
	for sa := range accounts {
		objs = append(objs, &corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: sa}})
	}
	rbac := metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String()}
	for i, p := range strategy.ClusterPermissions {
		name := fmt.Sprintf("%s-cluster-%d", csv.Name, i)
		subject := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: p.ServiceAccountName}}
		objs = append(objs,
			&rbacv1.ClusterRole{TypeMeta: withKind(rbac, "ClusterRole"), ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: p.Rules},
			&rbacv1.ClusterRoleBinding{TypeMeta: withKind(rbac, "ClusterRoleBinding"), ObjectMeta: metav1.ObjectMeta{Name: name},
				Subjects: subject, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}})
	}
	for i, p := range strategy.Permissions {
		name := fmt.Sprintf("%s-%d", csv.Name, i)
		subject := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: p.ServiceAccountName}}
		objs = append(objs,
			&rbacv1.Role{TypeMeta: withKind(rbac, "Role"), ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, Rules: p.Rules},
			&rbacv1.RoleBinding{TypeMeta: withKind(rbac, "RoleBinding"), ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
				Subjects: subject, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}})
	}
	for _, d := range strategy.DeploymentSpecs {
		objs = append(objs, &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: d.Name, Labels: d.Label}, Spec: d.Spec})
	}
	for _, o := range objs {
		data, err := yaml.Marshal(o)
		if err != nil {
			return nil, err
		}
		docs = append(docs, data)
	}
	return bytes.Join(docs, []byte("\n---\n")), nil
}

func withKind(t metav1.TypeMeta, kind string) metav1.TypeMeta {
	t.Kind = kind
	return t
}

// Kubectl runs the lab's kubectl as the admin and returns its output.
func (l *Lab) Kubectl(ctx context.Context, args ...string) (string, error) {
	var out bytes.Buffer
	err := l.kubectl(ctx, &out, args...)
	return out.String(), err
}

// kubectl runs the lab's kubectl as the admin, its output to out (or to
// this process's stdout when nil), its errors in the error.
func (l *Lab) kubectl(ctx context.Context, out *bytes.Buffer, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(l.K8sBin, "kubectl"), append([]string{"--kubeconfig", l.Kubeconfig()}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if out != nil {
		cmd.Stdout = out
	} else {
		cmd.Stdout = os.Stdout
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// Up builds the images, brings up the control plane and n nodes, and
// installs Kontrail (install: InstallDefault, InstallBundle, or "none").
// A lab left up (or half up) is taken down first.
func (l *Lab) Up(ctx context.Context, repo, version string, n int, install string) error {
	step := func(what string, start time.Time) {
		fmt.Printf("kontrail-lab: %s (%s)\n", what, time.Since(start).Round(100*time.Millisecond))
	}
	if _, err := os.Stat(l.path("pids")); err == nil {
		fmt.Println("kontrail-lab: a lab is up: taking it down first")
		if err := l.Down(); err != nil {
			return err
		}
	}
	start := time.Now()
	tarballs, err := BuildImages(repo, l.Dir, version)
	if err != nil {
		return err
	}
	addons, err := l.BuildAddonImages()
	if err != nil {
		return err
	}
	tarballs = append(tarballs, addons...)
	step("binaries and images built", start)
	start = time.Now()
	if err := l.UpControlPlane(ctx); err != nil {
		return err
	}
	step("control plane up", start)
	start = time.Now()
	if err := l.UpNodes(ctx, n, tarballs); err != nil {
		return err
	}
	step(fmt.Sprintf("%d nodes registered", n), start)
	start = time.Now()
	actx, cancel := context.WithTimeout(ctx, addonsTimeout)
	defer cancel()
	if err := l.InstallAddons(actx); err != nil {
		return err
	}
	step("kube-proxy on every node, CoreDNS applied", start)
	if install == "none" {
		return nil
	}
	start = time.Now()
	if err := l.Install(ctx, repo, install); err != nil {
		return err
	}
	step("Kontrail installed ("+install+") and Available", start)
	start = time.Now()
	dctx, cancel2 := context.WithTimeout(ctx, addonsTimeout)
	defer cancel2()
	if err := l.WaitDNS(dctx); err != nil {
		return err
	}
	step("CoreDNS on the pod network", start)
	return nil
}

// Status prints the nodes, Kontrail's resources and every pod.
func (l *Lab) Status(ctx context.Context) error {
	for _, args := range [][]string{
		{"get", "nodes", "-o", "wide"},
		{"get", "apiservers,controllers,kubemanagers,vrouters", "-A"},
		{"get", "pods", "-A", "-o", "wide"},
	} {
		if err := l.kubectl(ctx, nil, args...); err != nil {
			return err
		}
		fmt.Println()
	}
	return nil
}
