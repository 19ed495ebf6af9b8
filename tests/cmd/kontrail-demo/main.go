// Command kontrail-demo is what `make demo` runs until the multi-node lab
// lands: a real kube-apiserver and etcd (built from source) with Kontrail's
// CRDs, its apiserver webhooks and its controller, the seed's network vn1
// applied, and kubectl showing what Kontrail made of it, as the seed's user
// saw it. With --wait it keeps running for kubectl use until interrupted.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap/zapcore"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
	"github.com/kontrail/kontrail/components/controller/controllers"
	"github.com/kontrail/kontrail/tests/internal/testenv"
)

func main() {
	repo := flag.String("repo", ".", "The repository's top directory.")
	wait := flag.Bool("wait", false, "Keep the control plane running for kubectl until interrupted.")
	flag.Parse()
	logf.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))
	if err := run(*repo, *wait); err != nil {
		fmt.Fprintln(os.Stderr, "kontrail-demo:", err)
		os.Exit(1)
	}
}

func run(repo string, wait bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	step("Starting kube-apiserver and etcd (bin/k8s) with Kontrail's CRDs, webhooks and controller")
	env, err := testenv.Start(repo)
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()
	stopWebhooks, err := env.StartWebhookServer(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = stopWebhooks() }()
	stopController, err := env.StartController(ctx, controllers.Options{AutonomousSystem: 64512, Workers: 8})
	if err != nil {
		return err
	}
	defer func() { _ = stopController() }()

	kubeconfig, err := writeKubeconfig(env)
	if err != nil {
		return err
	}
	kubectl := func(args ...string) {
		fmt.Printf("\n$ kubectl %s\n", strings.Join(args, " "))
		cmd := exec.Command(filepath.Join(env.BinDir(), "kubectl"), args...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stdout
		_ = cmd.Run()
	}

	step("Applying the seed's network vn1 (172.16.10.0/24 with its route targets) and one address on it")
	c := env.Client
	objs := []client.Object{
		&corev1alpha1.Subnet{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "vn1-v4",
			Labels: map[string]string{corev1alpha1.LabelSubnetVirtualNetwork: "vn1"}},
			Spec: corev1alpha1.SubnetSpec{CIDR: "172.16.10.0/24"}},
		&corev1alpha1.VirtualNetwork{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "vn1"},
			Spec: corev1alpha1.VirtualNetworkSpec{
				V4SubnetReference:     &corev1alpha1.ResourceReference{Name: "vn1-v4"},
				RouteTargetList:       []corev1alpha1.RouteTargetString{"target:23:4561"},
				ImportRouteTargetList: []corev1alpha1.RouteTargetString{"target:10.2.2.2:561"},
				ExportRouteTargetList: []corev1alpha1.RouteTargetString{"target:10.1.1.1:561"},
			}},
		&corev1alpha1.InstanceIP{ObjectMeta: metav1.ObjectMeta{Name: "vn1-pod-eth1"},
			Spec: corev1alpha1.InstanceIPSpec{VirtualNetworkReference: corev1alpha1.ResourceReference{Namespace: "default", Name: "vn1"}}},
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			return fmt.Errorf("failed to create %s: %w", o.GetName(), err)
		}
	}
	if err := waitSuccess(ctx, c, objs[2].(*corev1alpha1.InstanceIP)); err != nil {
		return err
	}
	time.Sleep(time.Second) // let the subnet's usage catch up

	kubectl("get", "vn,subnet,ri")
	kubectl("get", "rt,iip")
	kubectl("get", "ri", "vn1", "-o", "jsonpath={range .spec.routeTargetReferences[*]}{.name}{\"\\t\"}{.attributes.importExport}{\"\\n\"}{end}")

	step("A bad subnet is refused where the user looks")
	kubectlApply := exec.Command(filepath.Join(env.BinDir(), "kubectl"), "apply", "-f", "-")
	kubectlApply.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	kubectlApply.Stdin = strings.NewReader("apiVersion: core.contrail.juniper.net/v1alpha1\nkind: Subnet\nmetadata: {name: bad, namespace: default}\nspec: {cidr: 172.16.20.0/24, defaultGateway: 172.16.20.255}\n")
	kubectlApply.Stdout, kubectlApply.Stderr = os.Stdout, os.Stdout
	fmt.Println("\n$ kubectl apply -f bad-subnet.yaml   # gateway 172.16.20.255 on 172.16.20.0/24")
	_ = kubectlApply.Run()

	if !wait {
		step("Done. `make demo WAIT=1` keeps the control plane up for your own kubectl")
		return nil
	}
	step(fmt.Sprintf("The control plane stays up: export KUBECONFIG=%s; kubectl is %s. Ctrl-C stops it", kubeconfig, filepath.Join(env.BinDir(), "kubectl")))
	<-ctx.Done()
	return nil
}

func step(s string) { fmt.Printf("\n==> %s\n", s) }

// writeKubeconfig writes an admin kubeconfig to .lab/kubeconfig.
func writeKubeconfig(env *testenv.Env) (string, error) {
	user, err := env.Environment.AddUser(envtest.User{Name: "demo-admin", Groups: []string{"system:masters"}}, env.Config)
	if err != nil {
		return "", err
	}
	data, err := user.KubeConfig()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(env.RepoRoot, ".lab")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "kubeconfig")
	return path, os.WriteFile(path, data, 0o600)
}

func waitSuccess(ctx context.Context, c client.Client, iip *corev1alpha1.InstanceIP) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(iip), iip); err == nil && iip.Status.State == corev1alpha1.StateSuccess {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("InstanceIP %s did not reach Success: %q", iip.Name, iip.Status.Observation)
}
