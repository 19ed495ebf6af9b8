// Package dataplane is the Ginkgo suite of the vrouter agent and the
// contrail-k8s-cni plugin: two "nodes" (network namespaces joined by a
// fabric bridge), each running a real agent process; pods (network
// namespaces) plugged by calling the plugin through libcni with the
// conflist the agent installed, as a container runtime does; the control
// plane (kube-apiserver, etcd, webhooks, controller, kubemanager) from the
// envtest suite. It needs root: CI runs it as root.
package dataplane

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
	"github.com/kontrail/kontrail/components/controller/controllers"
	"github.com/kontrail/kontrail/components/kubemanager/kubemanager"
	"github.com/kontrail/kontrail/tests/internal/nodes"
	"github.com/kontrail/kontrail/tests/internal/testenv"
)

const clusterName = "contrail-k8s-kubemanager-mk"

var (
	ctx       context.Context
	cancel    context.CancelFunc
	env       *testenv.Env
	k8sClient client.Client
	workDir   string
	agentBin  string
	pluginBin string
	kubeconf  string
	node1     *nodes.Node
	node2     *nodes.Node
	stops     []func() error
)

func TestDataplane(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Kontrail dataplane suite (root)")
}

var _ = BeforeSuite(func() {
	if os.Geteuid() != 0 {
		Skip("the dataplane suite needs root: it makes network namespaces, veth pairs, bridges and VXLAN devices")
	}
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.Background())
	SetDefaultEventuallyTimeout(60 * time.Second)
	SetDefaultEventuallyPollingInterval(200 * time.Millisecond)

	workDir = GinkgoT().TempDir()
	By("building the agent and the plugin")
	agentBin, pluginBin = filepath.Join(workDir, "kontrail-vrouter-agent"), filepath.Join(workDir, "contrail-k8s-cni")
	build(filepath.Join("..", "..", "vrouter"), "./cmd/agent", agentBin)
	build(filepath.Join("..", "..", "cni"), "./cmd/contrail-k8s-cni", pluginBin)

	By("starting the control plane with the webhooks, controller and kubemanager")
	var err error
	env, err = testenv.Start("../..")
	Expect(err).NotTo(HaveOccurred())
	k8sClient = env.Client
	stop, err := env.StartWebhookServer(ctx)
	Expect(err).NotTo(HaveOccurred())
	stops = append(stops, stop)
	stop, err = env.StartController(ctx, controllers.Options{AutonomousSystem: 64512, Workers: 8})
	Expect(err).NotTo(HaveOccurred())
	stops = append(stops, stop)
	stop, err = env.StartKubemanager(ctx, kubemanager.Config{ClusterName: clusterName, PodNetwork: "default-podnetwork",
		ServiceNetwork: "default-servicenetwork", EnableNAD: true, PodV4Subnet: "10.244.0.0/16", ServiceV4Subnet: "10.0.0.0/24", Workers: 8})
	Expect(err).NotTo(HaveOccurred())
	stops = append(stops, stop)

	By("making two nodes joined by a fabric, each with its agent")
	ns, cleanup, err := nodes.Fabric([]string{"node1", "node2"}, workDir)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(cleanup)
	node1, node2 = ns[0], ns[1]
	kubeconf = agentKubeconfig()
	for _, n := range ns {
		host, err := url.Parse(env.Config.Host)
		Expect(err).NotTo(HaveOccurred())
		Expect(n.ForwardAPI(host.Host, 16443)).To(Succeed())
		registerNode(n)
		startAgent(n)
	}
	for _, n := range ns {
		wait, cancelWait := context.WithTimeout(ctx, 60*time.Second)
		_, err := n.WaitForConflist(wait)
		cancelWait()
		Expect(err).NotTo(HaveOccurred())
		// The agent reports its node's dataplane in its VirtualRouter's STATE.
		Eventually(func() corev1alpha1.State {
			vr := &corev1alpha1.VirtualRouter{}
			Expect(client.IgnoreNotFound(k8sClient.Get(ctx, client.ObjectKey{Name: n.Name}, vr))).To(Succeed())
			return vr.Status.State
		}).Should(Equal(corev1alpha1.StateSuccess), n.Name)
	}
})

var _ = AfterSuite(func() {
	for _, n := range []*nodes.Node{node1, node2} {
		if n != nil {
			n.StopAgent()
		}
	}
	for i := len(stops) - 1; i >= 0; i-- {
		Expect(stops[i]()).To(Succeed())
	}
	if cancel != nil {
		cancel()
	}
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})

func build(module, pkg, out string) {
	GinkgoHelper()
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = module
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	output, err := cmd.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), string(output))
}

// agentKubeconfig is a kubeconfig for the agents, through each node's forwarder.
func agentKubeconfig() string {
	GinkgoHelper()
	path := filepath.Join(workDir, "agent.kubeconfig")
	Expect(nodes.AgentKubeconfig(env.Environment, path, 16443)).To(Succeed())
	return path
}

// registerNode makes the node's Node object, as its kubelet would.
func registerNode(n *nodes.Node) {
	GinkgoHelper()
	Expect(n.Register(ctx, k8sClient)).To(Succeed())
}

func startAgent(n *nodes.Node) {
	GinkgoHelper()
	// Networks without pods go after a second here (not two minutes), so
	// that specs see the nodes go back to what they were.
	Expect(n.StartAgent(nodes.AgentOptions{Binary: agentBin, Plugin: pluginBin, Kubeconfig: kubeconf, ClusterName: clusterName,
		Extra: []string{"--idle-network-seconds=1"}})).To(Succeed())
}

// The agents' logs go with a failed spec's report.
var _ = ReportAfterEach(func(report SpecReport) {
	if report.Failed() {
		for _, n := range []*nodes.Node{node1, node2} {
			if n != nil {
				AddReportEntry("agent log of "+n.Name, n.AgentLog())
			}
		}
	}
})
