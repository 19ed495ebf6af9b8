// Package envtest is the Ginkgo suite that runs Kontrail against a real
// kube-apiserver and etcd, built from source by 'make envtest-assets', with
// every CRD of config/crd/bases installed, the apiserver component's
// webhooks and the controller component running.
package envtest

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/kontrail/kontrail/components/controller/controllers"
	"github.com/kontrail/kontrail/components/kubemanager/kubemanager"
	"github.com/kontrail/kontrail/tests/internal/testenv"
)

var (
	ctx       context.Context
	cancel    context.CancelFunc
	env       *testenv.Env
	cfg       *rest.Config
	k8sClient client.Client
	scheme    *runtime.Scheme

	// stopController stops the controller the suite runs; specs that
	// restart it replace it.
	stopController  func()
	stopKubemanager func()
	stopWebhooks    func() error
)

// kubemanagerConfig is the suite's kubemanager: the seed's cluster name.
func kubemanagerConfig() kubemanager.Config {
	return kubemanager.Config{ClusterName: "contrail-k8s-kubemanager-mk", PodNetwork: "default-podnetwork",
		ServiceNetwork: "default-servicenetwork", EnableNAD: true, PodV4Subnet: "10.244.0.0/16",
		// envtest's kube-apiserver hands out cluster IPs from 10.0.0.0/24.
		ServiceV4Subnet: "10.0.0.0/24", Workers: 8}
}

// startKubemanager runs kubemanager with cfg and returns a function that
// stops it and waits until it has.
func startKubemanager(cfg kubemanager.Config) func() {
	stop, err := env.StartKubemanager(ctx, cfg)
	Expect(err).NotTo(HaveOccurred())
	return func() { Expect(stop()).To(Succeed()) }
}

func TestEnvtest(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Kontrail envtest suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.Background())

	var err error
	env, err = testenv.Start("../..")
	Expect(err).NotTo(HaveOccurred())
	cfg, k8sClient, scheme = env.Config, env.Client, env.Scheme

	stopWebhooks, err = env.StartWebhookServer(ctx)
	Expect(err).NotTo(HaveOccurred())
	stopController = startController()
	stopKubemanager = startKubemanager(kubemanagerConfig())

	SetDefaultEventuallyTimeout(60 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
})

// startController runs the controller and returns a function that stops it
// and waits until it has.
func startController() func() {
	stop, err := env.StartController(ctx, controllers.Options{AutonomousSystem: 64512, Workers: 8, RepairInterval: time.Second, NodeGoneGrace: time.Second})
	Expect(err).NotTo(HaveOccurred())
	return func() { Expect(stop()).To(Succeed()) }
}

var _ = AfterSuite(func() {
	if stopKubemanager != nil {
		stopKubemanager()
	}
	if stopController != nil {
		stopController()
	}
	if stopWebhooks != nil {
		Expect(stopWebhooks()).To(Succeed())
	}
	cancel()
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})
