package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kontrail/kontrail/components/kubemanager/kubemanager"
	"github.com/kontrail/kontrail/tests/internal/nodes"
)

// iperfSeconds is each iperf3 run's length.
const iperfSeconds = 10

// BenchmarkThroughput measures TCP throughput (iperf3, 1 and 4 streams)
// pod to pod: over a plain veth pair between two namespaces (the limit),
// over a hand-built bridge + VXLAN overlay between two nodes with
// Kontrail's MTU (the naive design), and over Kontrail on one node and
// across two nodes (agents and plugin as in a cluster). The nodes are
// network namespaces joined by a bridge, as in the dataplane suite.
// Needs root and iperf3; run with -benchtime=1x.
func BenchmarkThroughput(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: network namespaces and veth pairs")
	}
	if _, err := exec.LookPath("iperf3"); err != nil {
		b.Skip("iperf3 not installed (hack/install-deps.sh installs it)")
	}
	// The control plane runs for every path, not only Kontrail's: the same
	// background on the machine's cores.
	controlPlane(b)
	for _, path := range []struct {
		name  string
		setup func(b *testing.B) (client ns.NetNS, server ns.NetNS, serverIP string)
	}{
		{"veth", plainVeth},
		{"hand-built-overlay", handBuiltOverlay},
		{"kontrail-same-node", func(b *testing.B) (ns.NetNS, ns.NetNS, string) { return kontrailPods(b, false) }},
		{"kontrail-cross-node", func(b *testing.B) (ns.NetNS, ns.NetNS, string) { return kontrailPods(b, true) }},
	} {
		b.Run(path.name, func(b *testing.B) {
			client, server, ip := path.setup(b)
			for b.Loop() {
				for _, streams := range []int{1, 4} {
					gbps, err := iperf(client, server, ip, streams)
					if err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(gbps, fmt.Sprintf("gbit/s-%dstream", streams))
				}
			}
		})
	}
}

// iperf runs an iperf3 server in server's namespace and a client in
// client's, and returns the received Gbit/s.
func iperf(client, server ns.NetNS, ip string, streams int) (float64, error) {
	var srv *exec.Cmd
	if err := server.Do(func(ns.NetNS) error {
		srv = exec.Command("iperf3", "-s", "-1", "-B", ip)
		return srv.Start()
	}); err != nil {
		return 0, err
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	var res struct {
		Error string `json:"error"`
		End   struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	var out []byte
	err := client.Do(func(ns.NetNS) error {
		var err error
		// The server listens shortly after it starts; until then iperf3
		// says so in its JSON (and may exit 0).
		for range 50 {
			out, err = exec.Command("iperf3", "-c", ip, "-t", strconv.Itoa(iperfSeconds), "-P", strconv.Itoa(streams), "-J").Output()
			res.Error = ""
			if jerr := json.Unmarshal(out, &res); err == nil && jerr == nil && res.Error == "" {
				return nil
			}
			time.Sleep(100 * time.Millisecond)
		}
		return fmt.Errorf("iperf3 -c %s: %v: %s", ip, err, out)
	})
	if err != nil {
		return 0, err
	}
	if res.End.SumReceived.BitsPerSecond == 0 {
		return 0, fmt.Errorf("iperf3 -c %s -P %d measured nothing: %s", ip, streams, out)
	}
	return res.End.SumReceived.BitsPerSecond / 1e9, nil
}

// newNS makes a network namespace removed after the benchmark.
func newNS(b *testing.B) ns.NetNS {
	b.Helper()
	n, err := testutils.NewNS()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = n.Close(); _ = testutils.UnmountNS(n) })
	return n
}

// sh runs a shell script inside netns.
func sh(b *testing.B, netns ns.NetNS, script string) {
	b.Helper()
	if out, err := exec.Command("nsenter", "--net="+netns.Path(), "sh", "-ec", script).CombinedOutput(); err != nil {
		b.Fatalf("%s: %v\n%s", script, err, out)
	}
}

// plainVeth is the limit: two namespaces joined by one veth pair.
func plainVeth(b *testing.B) (ns.NetNS, ns.NetNS, string) {
	a, z := newNS(b), newNS(b)
	sh(b, a, fmt.Sprintf("ip link add eth0 type veth peer name eth0z netns %s; ip addr add 10.200.0.1/24 dev eth0; ip link set eth0 up", z.Path()))
	sh(b, z, "ip link set eth0z name eth0; ip addr add 10.200.0.2/24 dev eth0; ip link set eth0 up; ip link set lo up")
	return a, z, "10.200.0.2"
}

// handBuiltOverlay is the naive design across two nodes of a fabric: per
// node a bridge and a VXLAN device (the kernel's defaults: learning on,
// flooding to the other node), a pod on the bridge with the overlay's MTU.
func handBuiltOverlay(b *testing.B) (ns.NetNS, ns.NetNS, string) {
	ns2, cleanup, err := nodes.Fabric([]string{"naive-1", "naive-2"}, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cleanup)
	var pods []ns.NetNS
	for i, n := range ns2 {
		other := ns2[1-i].FabricIP
		pod := newNS(b)
		sh(b, n.NS, fmt.Sprintf(`ip link add br0 type bridge; ip link set br0 up
ip link add vx0 type vxlan id 42 local %s dstport 4789 dev fabric0; ip link set vx0 mtu 1450 master br0 up
bridge fdb append 00:00:00:00:00:00 dev vx0 dst %s
ip link add p0 type veth peer name eth0 netns %s; ip link set p0 mtu 1450 master br0 up`, n.FabricIP, other, pod.Path()))
		sh(b, pod, fmt.Sprintf("ip link set eth0 mtu 1450; ip addr add 10.201.0.%d/24 dev eth0; ip link set eth0 up; ip link set lo up", i+1))
		pods = append(pods, pod)
	}
	return pods[0], pods[1], "10.201.0.2"
}

// kontrailPods plugs two pods on a NAD through Kontrail, on one node or on
// two, and returns them with the server's address on the NAD.
func kontrailPods(b *testing.B, crossNode bool) (ns.NetNS, ns.NetNS, string) {
	e := controlPlane(b)
	ctx := context.Background()
	run := nextRun()
	ns2, _ := kontrailNodes(b, "tput", 16446, fmt.Sprintf("tput-%d-a", run), fmt.Sprintf("tput-%d-b", run))
	nad := &nadv1.NetworkAttachmentDefinition{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "tput",
		Annotations: map[string]string{kubemanager.AnnotationNetworks: `{"ipamV4Subnet": "10.150.0.0/16"}`}},
		Spec: nadv1.NetworkAttachmentDefinitionSpec{Config: `{"cniVersion": "1.0.0", "type": "contrail-k8s-cni"}`}}
	if err := e.Client.Create(ctx, nad); err != nil && !apierrors.IsAlreadyExists(err) {
		b.Fatal(err)
	}
	serverNode := ns2[0]
	if crossNode {
		serverNode = ns2[1]
	}
	client, _ := kontrailPod(b, ns2[0], fmt.Sprintf("tput-%d-client", run))
	server, ip := kontrailPod(b, serverNode, fmt.Sprintf("tput-%d-server", run))
	return client, server, ip
}

// kontrailPod makes a pod on the NAD tput on node and plugs it through
// libcni with the agent's conflist; it returns its namespace and eth1's
// address.
func kontrailPod(b *testing.B, node *nodes.Node, name string) (ns.NetNS, string) {
	b.Helper()
	e := controlPlane(b)
	ctx := context.Background()
	wait, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	conflist, err := node.WaitForConflist(wait)
	if err != nil {
		b.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name,
		Annotations: map[string]string{nadv1.NetworkAttachmentAnnot: "tput"}},
		Spec: corev1.PodSpec{NodeName: node.Name, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	if err := e.Client.Create(ctx, pod); err != nil {
		b.Fatal(err)
	}
	podNS := newNS(b)
	list, err := libcni.ConfListFromFile(conflist)
	if err != nil {
		b.Fatal(err)
	}
	cninet := libcni.NewCNIConfigWithCacheDir([]string{node.BinDir}, filepath.Join(node.Dir, "cni-cache"), nil)
	rt := &libcni.RuntimeConf{ContainerID: name, NetNS: podNS.Path(), IfName: "eth0",
		Args: [][2]string{{"K8S_POD_NAMESPACE", "default"}, {"K8S_POD_NAME", name}, {"K8S_POD_UID", string(pod.UID)}}}
	var ip string
	if err := node.NS.Do(func(ns.NetNS) error {
		res, err := cninet.AddNetworkList(ctx, list, rt)
		if err != nil {
			return err
		}
		r, err := current.NewResultFromResult(res)
		if err != nil {
			return err
		}
		for _, c := range r.IPs {
			if c.Interface != nil && r.Interfaces[*c.Interface].Name == "eth1" && c.Address.IP.To4() != nil {
				ip = c.Address.IP.String()
			}
		}
		return nil
	}); err != nil {
		b.Fatalf("ADD %s: %v\n%s", name, err, node.AgentLog())
	}
	if net.ParseIP(ip) == nil {
		b.Fatalf("pod %s has no eth1 address", name)
	}
	b.Cleanup(func() { _ = node.NS.Do(func(ns.NetNS) error { return cninet.DelNetworkList(ctx, list, rt) }) })
	return podNS, ip
}
