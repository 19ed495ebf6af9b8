// Package envtest is the Ginkgo suite that runs Kontrail against a real
// kube-apiserver and etcd, built from source by 'make envtest-assets', with
// every CRD of config/crd/bases installed.
package envtest

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	apiwebhook "github.com/kontrail/kontrail/components/apiserver/webhook"
	"github.com/kontrail/kontrail/components/controller/controllers"

	"github.com/kontrail/kontrail/pkg/component"
)

var (
	ctx       context.Context
	cancel    context.CancelFunc
	testEnv   *envtest.Environment
	cfg       *rest.Config
	k8sClient client.Client
	scheme    *runtime.Scheme
)

func TestEnvtest(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Kontrail envtest suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.Background())

	repoRoot, err := filepath.Abs(filepath.Join("..", ".."))
	Expect(err).NotTo(HaveOccurred())

	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(repoRoot, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: binaryAssetsDirectory(repoRoot),
		// The apiserver component's webhook configurations, pointed by
		// envtest at the webhook server this suite runs.
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			Paths: []string{filepath.Join(repoRoot, "config", "webhook")},
		},
	}
	cfg, err = testEnv.Start()
	Expect(err).NotTo(HaveOccurred(), "failed to start the control plane: run 'make envtest-assets' first")
	Expect(cfg).NotTo(BeNil())

	scheme = component.Scheme()
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	startWebhookServer()
	stopController = startController()

	SetDefaultEventuallyTimeout(60 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
})

// stopController stops the controller the suite runs; specs that restart it
// replace it.
var stopController func()

// startController runs the controller component's reconcilers in a manager
// of their own, as the kontrail-controller binary does, and returns a
// function that stops it and waits until it has.
func startController() func() {
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// A restarted controller registers the same controller names again.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	Expect(err).NotTo(HaveOccurred())
	mgrCtx, stop := context.WithCancel(ctx)
	_, err = controllers.Setup(mgrCtx, mgr, controllers.Options{AutonomousSystem: 64512, Workers: 8})
	Expect(err).NotTo(HaveOccurred())
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		Expect(mgr.Start(mgrCtx)).To(Succeed())
	}()
	return func() {
		stop()
		<-done
	}
}

// startWebhookServer runs the apiserver component's webhooks, as the
// kontrail-apiserver binary does, on the address envtest configured.
func startWebhookServer() {
	opts := &testEnv.WebhookInstallOptions
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		WebhookServer: webhook.NewServer(webhook.Options{
			Host: opts.LocalServingHost, Port: opts.LocalServingPort, CertDir: opts.LocalServingCertDir,
		}),
	})
	Expect(err).NotTo(HaveOccurred())
	Expect(apiwebhook.Setup(mgr)).To(Succeed())
	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()

	addr := net.JoinHostPort(opts.LocalServingHost, strconv.Itoa(opts.LocalServingPort))
	Eventually(func() error {
		conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // readiness probe of a local test server
		if err != nil {
			return err
		}
		return conn.Close()
	}).Should(Succeed(), "the webhook server did not start")
}

var _ = AfterSuite(func() {
	if stopController != nil {
		stopController()
	}
	cancel()
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})

// binaryAssetsDirectory is where the control-plane binaries are: the
// Makefile's KUBEBUILDER_ASSETS, or bin/k8s when the suite runs from an IDE.
func binaryAssetsDirectory(repoRoot string) string {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir
	}
	return filepath.Join(repoRoot, "bin", "k8s")
}
