package bench

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kontrail/kontrail/components/kubemanager/kubemanager"
	"github.com/kontrail/kontrail/tests/internal/nodes"
)

// BenchmarkCNIAddDel times ADD then DEL of a three-interface pod (eth0 on
// the pod network, eth1 and eth2 on two NADs) through libcni with the
// conflist the agent installed, from inside a node, as a container runtime
// does; the agent is a real process and the pod's allocation is done once,
// before the timing (kubemanager and the controller are timed by
// BenchmarkPodBurst). It reports ADD's p50/p90/p99, DEL's p50/p99 and the
// plugin binary's size. Needs root; run with -benchtime=200x for 200
// samples. BenchmarkMultusAddDel is the same pod through Multus.
func BenchmarkCNIAddDel(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: network namespaces and veth pairs")
	}
	e := controlPlane(b)
	ctx := context.Background()
	run := nextRun()
	ns1, pluginBin := kontrailNodes(b, "cnibench", 16443, fmt.Sprintf("bench-node-%d", run))
	node := ns1[0]
	info, err := os.Stat(pluginBin)
	if err != nil {
		b.Fatal(err)
	}
	wait, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	conflist, err := node.WaitForConflist(wait)
	if err != nil {
		b.Fatal(err)
	}

	for _, n := range []struct{ name, cidr string }{{"cni-a", "10.120.0.0/16"}, {"cni-b", "10.121.0.0/16"}} {
		nad := &nadv1.NetworkAttachmentDefinition{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: n.name,
			Annotations: map[string]string{kubemanager.AnnotationNetworks: `{"ipamV4Subnet": "` + n.cidr + `"}`}},
			Spec: nadv1.NetworkAttachmentDefinitionSpec{Config: `{"cniVersion": "1.0.0", "type": "contrail-k8s-cni"}`}}
		if err := e.Client.Create(ctx, nad); err != nil && !apierrors.IsAlreadyExists(err) {
			b.Fatal(err)
		}
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("cni-bench-%d", run),
		Annotations: map[string]string{nadv1.NetworkAttachmentAnnot: "cni-a,cni-b"}},
		Spec: corev1.PodSpec{NodeName: node.Name, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	if err := e.Client.Create(ctx, pod); err != nil {
		b.Fatal(err)
	}
	list, err := libcni.ConfListFromFile(conflist)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if b.Failed() {
			b.Log(node.AgentLog())
		}
		// BENCH_AGENT_LOG=file keeps the agent's debug log (its timings).
		if path := os.Getenv("BENCH_AGENT_LOG"); path != "" {
			_ = os.WriteFile(path, []byte(node.AgentLog()), 0o644)
		}
	})
	// The first ADD waits for kubemanager and the controller: plumb does
	// not time it.
	plumb(b, node, node.BinDir, node.Dir, list, pod, "cni-bench-sandbox")
	b.ReportMetric(float64(info.Size())/(1<<20), "plugin-MiB")
	b.ReportMetric(ms(pluginStartup(b, pluginBin)), "plugin-startup-ms")
}

// pluginStartup is the median time of 50 runs of the plugin answering
// VERSION: its start-up (exec, Go runtime, flag and config parsing), the
// part of every ADD and DEL that is not work.
func pluginStartup(b *testing.B, plugin string) time.Duration {
	b.Helper()
	var runs []time.Duration
	for range 50 {
		cmd := exec.Command(plugin)
		cmd.Env = []string{"CNI_COMMAND=VERSION"}
		cmd.Stdin = strings.NewReader(`{"cniVersion": "1.0.0"}`)
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%s VERSION: %v: %s", plugin, err, out)
		}
		runs = append(runs, time.Since(start))
	}
	return percentile(runs, 50)
}

func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// kontrailNodes runs kubemanager (cluster clusterName) and, per name, a
// node (network namespace on a shared fabric) with a registered Node and
// a vrouter agent reaching the control plane at 127.0.0.1:port; the agent
// and plugin are built from this repository. It returns the nodes and the
// plugin's path; everything stops with the benchmark.
func kontrailNodes(b *testing.B, clusterName string, port int, names ...string) ([]*nodes.Node, string) {
	b.Helper()
	e := controlPlane(b)
	ctx := context.Background()
	stopKM, err := e.StartKubemanager(ctx, kubemanager.Config{ClusterName: clusterName, PodNetwork: "default-podnetwork",
		ServiceNetwork: "default-servicenetwork", EnableNAD: true, PodV4Subnet: "10.244.0.0/16", ServiceV4Subnet: "10.0.0.0/24", Workers: 8})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = stopKM() })
	dir := b.TempDir()
	agentBin, pluginBin := filepath.Join(dir, "kontrail-vrouter-agent"), filepath.Join(dir, "contrail-k8s-cni")
	for _, t := range []struct{ module, pkg, out string }{{"vrouter", "./cmd/agent", agentBin}, {"cni", "./cmd/contrail-k8s-cni", pluginBin}} {
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", t.out, t.pkg)
		cmd.Dir, cmd.Env = filepath.Join(e.RepoRoot, t.module), append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("build %s: %v\n%s", t.pkg, err, out)
		}
	}
	ns, cleanup, err := nodes.Fabric(names, dir)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cleanup)
	host, _ := url.Parse(e.Config.Host)
	kubeconfig := filepath.Join(dir, "agent.kubeconfig")
	if err := nodes.AgentKubeconfig(e.Environment, kubeconfig, port); err != nil {
		b.Fatal(err)
	}
	for _, n := range ns {
		if err := n.ForwardAPI(host.Host, port); err != nil {
			b.Fatal(err)
		}
		if err := n.Register(ctx, e.Client); err != nil {
			b.Fatal(err)
		}
		if err := n.StartAgent(nodes.AgentOptions{Binary: agentBin, Plugin: pluginBin, Kubeconfig: kubeconfig, ClusterName: clusterName}); err != nil {
			b.Fatal(err)
		}
	}
	return ns, pluginBin
}
