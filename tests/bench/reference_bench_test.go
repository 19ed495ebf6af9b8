package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/version"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kontrail/kontrail/components/kubemanager/kubemanager"
	"github.com/kontrail/kontrail/tests/internal/nodes"
	"github.com/kontrail/kontrail/tests/internal/testenv"
)

// The reference stack for multi-interface pods: Multus v4's thin plugin
// delegating to the reference bridge and host-local plugins
// (containernetworking/plugins), each built here from the Go module proxy
// (hack/bench/multus for Multus). Multus reads the pod and its NADs from
// the same kube-apiserver Kontrail's bench uses, and writes the pod's
// network-status back, as in a cluster.

// runs counts the benchmark functions' invocations (-count repeats them
// in one process, against one control plane): names made per run.
var runs atomic.Int32

func nextRun() int { return int(runs.Add(1)) }

// buildReference builds multus, bridge and host-local into a new bin dir.
func buildReference(b *testing.B, e *testenv.Env, dir string) string {
	b.Helper()
	bin := filepath.Join(dir, "reference-bin")
	builds := []struct{ module, pkg, out string }{
		{"hack/bench/multus", "gopkg.in/k8snetworkplumbingwg/multus-cni.v4/cmd/multus", "multus"},
		{"cni", "github.com/containernetworking/plugins/plugins/main/bridge", "bridge"},
		{"cni", "github.com/containernetworking/plugins/plugins/ipam/host-local", "host-local"},
	}
	for _, t := range builds {
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(bin, t.out), t.pkg)
		cmd.Dir, cmd.Env = filepath.Join(e.RepoRoot, t.module), append(os.Environ(), "CGO_ENABLED=0")
		if t.module == "hack/bench/multus" {
			cmd.Env = append(cmd.Env, "GOWORK=off") // Multus pins its own client libraries
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("build %s: %v\n%s", t.pkg, err, out)
		}
	}
	return bin
}

// bridgeConf is a bridge + host-local network on bridge br.
func bridgeConf(name, br, subnet, ipamDir string) map[string]any {
	return map[string]any{"cniVersion": "1.0.0", "name": name, "type": "bridge", "bridge": br, "isGateway": true,
		"ipam": map[string]any{"type": "host-local", "ranges": [][]map[string]string{{{"subnet": subnet}}}, "dataDir": ipamDir}}
}

func confList(b *testing.B, name string, plugins ...map[string]any) *libcni.NetworkConfigList {
	b.Helper()
	raw, err := json.Marshal(map[string]any{"cniVersion": "1.0.0", "name": name, "plugins": plugins})
	if err != nil {
		b.Fatal(err)
	}
	list, err := libcni.ConfListFromBytes(raw)
	if err != nil {
		b.Fatal(err)
	}
	return list
}

// referenceNode is a node (network namespace) reaching the control plane
// at 127.0.0.1:port, with a kubeconfig for it.
func referenceNode(b *testing.B, e *testenv.Env, name, dir string, port int) (*nodes.Node, string) {
	b.Helper()
	ns1, cleanup, err := nodes.Fabric([]string{name}, dir)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cleanup)
	host, _ := url.Parse(e.Config.Host)
	kubeconfig := filepath.Join(dir, name+".kubeconfig")
	if err := nodes.AgentKubeconfig(e.Environment, kubeconfig, port); err != nil {
		b.Fatal(err)
	}
	if err := ns1[0].ForwardAPI(host.Host, port); err != nil {
		b.Fatal(err)
	}
	return ns1[0], kubeconfig
}

// BenchmarkMultusAddDel times ADD and DEL of a three-interface pod (eth0
// on the cluster network, net1 and net2 on two NADs, every one a bridge +
// host-local network) through Multus v4's thin plugin, as
// BenchmarkCNIAddDel does for Kontrail.
func BenchmarkMultusAddDel(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: network namespaces and veth pairs")
	}
	e := controlPlane(b)
	ctx := context.Background()
	dir := b.TempDir()
	bin := buildReference(b, e, dir)
	run := nextRun()
	node, kubeconfig := referenceNode(b, e, fmt.Sprintf("multus-node-%d", run), dir, 16444)
	if err := kubemanager.EnsureNADCRD(ctx, e.Client); err != nil {
		b.Fatal(err)
	}

	for i, n := range []string{"net-a", "net-b"} {
		conf, _ := json.Marshal(bridgeConf(n, fmt.Sprintf("mbr%d", i+1), fmt.Sprintf("10.13%d.0.0/16", i+1), filepath.Join(dir, "ipam")))
		nad := &nadv1.NetworkAttachmentDefinition{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: n},
			Spec: nadv1.NetworkAttachmentDefinitionSpec{Config: string(conf)}}
		// The CRD was just made: the client learns it on a retry.
		deadline := time.Now().Add(30 * time.Second)
		for err := e.Client.Create(ctx, nad); err != nil; err = e.Client.Create(ctx, nad) {
			if apierrors.IsAlreadyExists(err) {
				break
			}
			if time.Now().After(deadline) {
				b.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("multus-bench-%d", run),
		Annotations: map[string]string{nadv1.NetworkAttachmentAnnot: "net-a,net-b"}},
		Spec: corev1.PodSpec{NodeName: node.Name, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	if err := e.Client.Create(ctx, pod); err != nil {
		b.Fatal(err)
	}
	cluster := bridgeConf("cluster", "mbr0", "10.130.0.0/16", filepath.Join(dir, "ipam"))
	list := confList(b, "multus-cni-network", map[string]any{"type": "multus", "name": "multus-cni-network", "cniVersion": "1.0.0",
		"kubeconfig": kubeconfig, "cniDir": filepath.Join(dir, "multus-cache"), "binDir": bin, "confDir": filepath.Join(dir, "net.d"),
		"delegates": []any{map[string]any{"cniVersion": "1.0.0", "name": "cluster", "plugins": []any{cluster}}}})
	plumb(b, node, bin, dir, list, pod, "multus-bench-sandbox")
}

// BenchmarkBridgeAddDel is the floor: one bridge + host-local interface,
// the reference plugins called directly.
func BenchmarkBridgeAddDel(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: network namespaces and veth pairs")
	}
	e := controlPlane(b)
	dir := b.TempDir()
	bin := buildReference(b, e, dir)
	node, _ := referenceNode(b, e, "bridge-node", dir, 16445)
	list := confList(b, "floor", bridgeConf("floor", "fbr0", "10.140.0.0/16", filepath.Join(dir, "ipam")))
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "bridge-bench"}}
	plumb(b, node, bin, dir, list, pod, "bridge-bench-sandbox")
}

// plumb times ADD and DEL of list into a fresh pod namespace, from inside
// node, as a container runtime does, and reports them.
func plumb(b *testing.B, node *nodes.Node, bin, dir string, list *libcni.NetworkConfigList, pod *corev1.Pod, sandbox string) {
	b.Helper()
	ctx := context.Background()
	podNS, err := testutils.NewNS()
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = podNS.Close(); _ = testutils.UnmountNS(podNS) }()
	cninet := libcni.NewCNIConfigWithCacheDir([]string{bin}, filepath.Join(dir, "cni-cache"), quietExec())
	rt := &libcni.RuntimeConf{ContainerID: sandbox, NetNS: podNS.Path(), IfName: "eth0",
		Args: [][2]string{{"IgnoreUnknown", "1"}, {"K8S_POD_NAMESPACE", pod.Namespace}, {"K8S_POD_NAME", pod.Name},
			{"K8S_POD_INFRA_CONTAINER_ID", sandbox}, {"K8S_POD_UID", string(pod.UID)}}}
	timeAddDel(b, func() (add, del time.Duration, err error) {
		err = node.NS.Do(func(ns.NetNS) error {
			start := time.Now()
			res, err := cninet.AddNetworkList(ctx, list, rt)
			if err != nil {
				return err
			}
			add = time.Since(start)
			if res == nil {
				return fmt.Errorf("ADD returned no result")
			}
			start = time.Now()
			if err := cninet.DelNetworkList(ctx, list, rt); err != nil {
				return err
			}
			del = time.Since(start)
			return nil
		})
		return add, del, err
	})
}

// quietExec runs plugins with their stderr discarded: Multus logs its pod
// events there, and the benchmark's output carries the result lines
// `make bench` reads.
func quietExec() *invoke.DefaultExec {
	return &invoke.DefaultExec{RawExec: &invoke.RawExec{Stderr: io.Discard}, PluginDecoder: version.PluginDecoder{}}
}

// timeAddDel runs addDel once untimed (the first ADD pays for caches and
// first allocations), then once per iteration, and reports ADD's p50, p90
// and p99, DEL's p50 and p99, and the sample count.
func timeAddDel(b *testing.B, addDel func() (add, del time.Duration, err error)) {
	b.Helper()
	if _, _, err := addDel(); err != nil {
		b.Fatalf("first ADD/DEL: %v", err)
	}
	var adds, dels, totals []time.Duration
	for b.Loop() {
		add, del, err := addDel()
		if err != nil {
			b.Fatal(err)
		}
		adds, dels, totals = append(adds, add), append(dels, del), append(totals, add+del)
	}
	// Back to back, the kernel's teardown of the last DEL's veths runs
	// into the next ADD: ADD+DEL is the figure that does not move with it.
	b.ReportMetric(ms(percentile(totals, 50)), "p50-add+del-ms")
	b.ReportMetric(ms(percentile(adds, 50)), "p50-add-ms")
	b.ReportMetric(ms(percentile(adds, 90)), "p90-add-ms")
	b.ReportMetric(ms(percentile(adds, 99)), "p99-add-ms")
	b.ReportMetric(ms(percentile(dels, 50)), "p50-del-ms")
	b.ReportMetric(ms(percentile(dels, 99)), "p99-del-ms")
	b.ReportMetric(float64(len(adds)), "samples")
	if len(adds) < 100 {
		b.Logf("only %d samples: run with -benchtime=100x or more for the p99", len(adds))
	}
}
