package agent

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
	"github.com/kontrail/kontrail/cni/agentapi"
	"github.com/kontrail/kontrail/vrouter/dataplane"
)

const podNetwork = "k8s-contrail/default-podnetwork"

func hostPort(proto agentapi.Protocol, hostIP string, port, containerPort uint16) agentapi.HostPort {
	h := agentapi.HostPort{HostPort: port, ContainerPort: containerPort, Protocol: proto}
	if hostIP != "" {
		h.HostIP = netip.MustParseAddr(hostIP)
	}
	return h
}

func hostPortPod(container, name string, ips []string, hps ...agentapi.HostPort) agentapi.Port {
	return agentapi.Port{ContainerID: container, IfName: "eth0", HostIfName: agentapi.HostIfName(container, "eth0"), Network: podNetwork,
		PodNamespace: "ns", PodName: name, MAC: "02:00:00:00:00:01", IPs: ips, HostPorts: hps}
}

// The conformance test's three pods share host port 54323 (host IP or
// protocol differ) on one node; a fourth pod that claims one of theirs
// (or every address of the port) is refused, naming the holder, whether
// the two ADDs come one after the other or the store was reopened.
func TestPortStoreRefusesATakenHostPort(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ports.json")
	s, _, err := OpenPortStore(path)
	if err != nil {
		t.Fatal(err)
	}
	s.plugged = func(string) bool { return true }
	ip := []string{"10.244.0.5"}
	for _, p := range []agentapi.Port{
		hostPortPod("c1", "pod1", ip, hostPort(agentapi.ProtocolTCP, "127.0.0.1", 54323, 8080)),
		hostPortPod("c2", "pod2", ip, hostPort(agentapi.ProtocolTCP, "192.168.100.1", 54323, 8080)),
		hostPortPod("c3", "pod3", ip, hostPort(agentapi.ProtocolUDP, "192.168.100.1", 54323, 8080)),
	} {
		if err := s.Add([]agentapi.Port{p}); err != nil {
			t.Fatalf("%s: %v", p.PodName, err)
		}
	}
	// The same container again (a retried ADD) replaces its own.
	if err := s.Add([]agentapi.Port{hostPortPod("c2", "pod2", ip, hostPort(agentapi.ProtocolTCP, "192.168.100.1", 54323, 8080))}); err != nil {
		t.Errorf("the holder's own ADD again: %v", err)
	}
	reopened, _, err := OpenPortStore(path)
	if err != nil {
		t.Fatal(err)
	}
	reopened.plugged = s.plugged
	if got := reopened.List(); len(got) != 3 || !reflect.DeepEqual(got[1].HostPorts, []agentapi.HostPort{hostPort(agentapi.ProtocolTCP, "192.168.100.1", 54323, 8080)}) {
		t.Fatalf("the reopened store's ports = %+v, want the three pods' host ports kept", got)
	}
	for _, tc := range []struct {
		claim agentapi.HostPort
		want  string
	}{
		{hostPort(agentapi.ProtocolTCP, "192.168.100.1", 54323, 9090), "host port tcp 192.168.100.1:54323 -> 9090 is taken: pod ns/pod2 (container c2) holds tcp 192.168.100.1:54323 -> 8080 on this node"},
		{hostPort(agentapi.ProtocolUDP, "", 54323, 8080), "pod ns/pod3 (container c3) holds udp 192.168.100.1:54323"},
		{hostPort(agentapi.ProtocolTCP, "0.0.0.0", 54323, 8080), "pod ns/pod1 (container c1) holds tcp 127.0.0.1:54323"},
	} {
		for name, store := range map[string]*PortStore{"running": s, "reopened": reopened} {
			err := store.Add([]agentapi.Port{hostPortPod("c4", "pod4", ip, tc.claim)})
			var taken *HostPortTaken
			if !errors.As(err, &taken) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s store, pod4 claims %s: %v, want it taken: %q", name, tc.claim, err, tc.want)
			}
			if len(store.List()) != 3 {
				t.Errorf("%s store: a refused port was recorded", name)
			}
		}
	}
	// Another port, or another protocol, of the same address is free.
	if err := s.Add([]agentapi.Port{hostPortPod("c4", "pod4", ip, hostPort(agentapi.ProtocolSCTP, "192.168.100.1", 54323, 8080),
		hostPort(agentapi.ProtocolTCP, "192.168.100.1", 54324, 8080))}); err != nil {
		t.Errorf("free host ports: %v", err)
	}
	// A holder whose host end is gone (its pod went, the forget is
	// pending) holds nothing.
	s.plugged = func(name string) bool { return name != agentapi.HostIfName("c2", "eth0") }
	if err := s.Add([]agentapi.Port{hostPortPod("c5", "pod5", ip, hostPort(agentapi.ProtocolTCP, "192.168.100.1", 54323, 8080))}); err != nil {
		t.Errorf("a host port whose holder's interface is gone: %v", err)
	}
}

// A pod's host ports reach the dataplane once per address of their
// family; the agent takes only host ports on the pod network that the
// interface can carry.
func TestHostPortForwardsAndChecks(t *testing.T) {
	dual := hostPortPod("c1", "pod1", []string{"10.244.0.5", "fd00::5"},
		hostPort(agentapi.ProtocolTCP, "", 80, 8080), hostPort(agentapi.ProtocolUDP, "192.168.100.1", 53, 5353))
	got := forwards(dual)
	want := []dataplane.HostPort{
		{Port: dual.HostIfName, Pod: "ns/pod1", Protocol: unix.IPPROTO_TCP, HostPort: 80, PodIP: netip.MustParseAddr("10.244.0.5"), PodPort: 8080},
		{Port: dual.HostIfName, Pod: "ns/pod1", Protocol: unix.IPPROTO_TCP, HostPort: 80, PodIP: netip.MustParseAddr("fd00::5"), PodPort: 8080},
		{Port: dual.HostIfName, Pod: "ns/pod1", Protocol: unix.IPPROTO_UDP, HostIP: netip.MustParseAddr("192.168.100.1"), HostPort: 53,
			PodIP: netip.MustParseAddr("10.244.0.5"), PodPort: 5353},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("forwards = %+v, want %+v", got, want)
	}
	a := &Agent{cfg: Config{CNIClusterName: "k8s"}}
	if err := a.checkHostPorts(dual); err != nil {
		t.Errorf("checkHostPorts(dual-stack pod) = %v", err)
	}
	other := dual
	other.Network = "ns/other"
	if err := a.checkHostPorts(other); err == nil || err.Code != agentapi.CodeInvalidConfig ||
		!strings.Contains(err.Message, "is on network ns/other: host ports are forwarded to the pod network "+podNetwork+" alone") {
		t.Errorf("host ports off the pod network: %v", err)
	}
	v4 := hostPortPod("c1", "pod1", []string{"10.244.0.5"}, hostPort(agentapi.ProtocolTCP, "::1", 80, 8080))
	if err := a.checkHostPorts(v4); err == nil || !strings.Contains(err.Message, "the host IP is IPv6 but the interface has no IPv6 address") {
		t.Errorf("an IPv6 host IP on an IPv4 pod: %v", err)
	}
	bad := hostPortPod("c1", "pod1", []string{"10.244.0.5"}, agentapi.HostPort{HostPort: 80, ContainerPort: 80, Protocol: "icmp"})
	if err := a.checkHostPorts(bad); err == nil || !strings.Contains(err.Message, `protocol "icmp" is not tcp, udp or sctp`) {
		t.Errorf("protocol icmp: %v", err)
	}
}

// The agent accepts the host ports the pod's containers declare alone (a
// root caller cannot take a port of the node for a pod that did not ask).
func TestHostPortsMustBeThePodsOwn(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "init", Ports: []corev1.ContainerPort{{HostPort: 22, ContainerPort: 22}}}},
		Containers: []corev1.Container{{Name: "agnhost", Ports: []corev1.ContainerPort{
			{HostPort: 54323, ContainerPort: 8080, Protocol: corev1.ProtocolTCP, HostIP: "127.0.0.1"},
			{HostPort: 54324, ContainerPort: 8080}, // Protocol defaulted by the apiserver; TCP
			{ContainerPort: 9090},                  // no host port
		}}}}}
	want := []agentapi.HostPort{hostPort(agentapi.ProtocolTCP, "127.0.0.1", 54323, 8080), hostPort(agentapi.ProtocolTCP, "", 54324, 8080)}
	if got := specHostPorts(pod); !reflect.DeepEqual(got, want) {
		t.Errorf("specHostPorts = %v, want %v", got, want)
	}
	ip := []string{"10.244.0.5"}
	if why := undeclaredHostPort(hostPortPod("c", "p", ip, want...), pod); why != "" {
		t.Errorf("the declared host ports: %s", why)
	}
	for _, claim := range []agentapi.HostPort{
		hostPort(agentapi.ProtocolTCP, "", 22, 22),                   // an init container's: the kubelet passes none
		hostPort(agentapi.ProtocolTCP, "", 54323, 8080),              // every address, where the pod asked for loopback
		hostPort(agentapi.ProtocolUDP, "127.0.0.1", 54323, 8080),     // another protocol
		hostPort(agentapi.ProtocolTCP, "127.0.0.1", 54323, 8081),     // another container port
		hostPort(agentapi.ProtocolTCP, "192.168.100.1", 54324, 8080), // a host IP the pod did not give
	} {
		if why := undeclaredHostPort(hostPortPod("c", "p", ip, claim), pod); !strings.Contains(why, "host port "+claim.String()+" is not one of the pod's container ports") {
			t.Errorf("claim %s: %q", claim, why)
		}
	}
}

// The conflist advertises portMappings, so that the runtime passes the
// pod's host ports.
func TestConflistAdvertisesPortMappings(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "plugin")
	if err := os.WriteFile(bin, []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: installs a root-owned plugin")
	}
	a := &Agent{cfg: Config{CNIBinary: bin, CNIBinDir: dir, CNIConfDir: dir, CNIVersion: "1.0.0", SocketDir: "/run/kontrail"}, mtu: 1450}
	if err := a.installCNI(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, ConflistName))
	if err != nil {
		t.Fatal(err)
	}
	var conflist struct {
		Plugins []struct {
			Type         string          `json:"type"`
			Capabilities map[string]bool `json:"capabilities"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal(data, &conflist); err != nil {
		t.Fatal(err)
	}
	if len(conflist.Plugins) != 1 || conflist.Plugins[0].Type != "contrail-k8s-cni" || !conflist.Plugins[0].Capabilities["portMappings"] {
		t.Errorf("conflist = %s, want contrail-k8s-cni with capabilities.portMappings", data)
	}
}

// The pod network is set up on every node, a node without pods too (it
// reaches every pod, and routes for them), as soon as its VirtualNetwork
// has its id; another network only while it has pods on the node.
func TestDesiredHasThePodNetworkWithoutPods(t *testing.T) {
	scheme := runtime.NewScheme()
	_ = corev1.AddToScheme(scheme)
	_ = corev1alpha1.AddToScheme(scheme)
	vn := func(ns, name string, id int64, subnet string) *corev1alpha1.VirtualNetwork {
		v := &corev1alpha1.VirtualNetwork{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		v.Spec.FabricSNAT = subnet != ""
		if subnet != "" {
			v.Spec.V4SubnetReference = &corev1alpha1.ResourceReference{Namespace: ns, Name: subnet}
		}
		v.Status.VirtualNetworkNetworkID = id
		return v
	}
	subnet := &corev1alpha1.Subnet{ObjectMeta: metav1.ObjectMeta{Namespace: "k8s-contrail", Name: "pods-v4"}}
	subnet.Spec.CIDR, subnet.Spec.DefaultGateway = "10.244.0.0/16", "10.244.0.1"
	other := vn("ns", "other", 7, "")
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(vn("k8s-contrail", "default-podnetwork", 0, "pods-v4"), subnet, other).Build()
	store := mustPortStore(t)
	a := &Agent{cfg: Config{NodeName: "n1", CNIClusterName: "k8s", IdleNetworkSeconds: 120}, client: c, ports: store,
		pending: map[string]time.Time{}, lastUsed: map[string]time.Time{}}
	ctx := context.Background()
	names := func(s dataplane.State) []string {
		var out []string
		for _, n := range s.Networks {
			out = append(out, n.Name)
		}
		return out
	}

	state, problems := a.desired(ctx, nil)
	if len(state.Networks) != 0 || len(problems) != 0 {
		t.Errorf("the pod network without its id: networks %v, problems %v; want none, and no problem on a node without pods", names(state), problems)
	}
	pods := &corev1alpha1.VirtualNetwork{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "k8s-contrail", Name: "default-podnetwork"}, pods); err != nil {
		t.Fatal(err)
	}
	pods.Status.VirtualNetworkNetworkID = 1
	if err := c.Status().Update(ctx, pods); err != nil {
		if err := c.Update(ctx, pods); err != nil {
			t.Fatal(err)
		}
	}
	state, problems = a.desired(ctx, nil)
	if len(problems) != 0 || len(state.Networks) != 1 || state.Networks[0].Name != podNetwork || state.Networks[0].VNI != 1 ||
		!reflect.DeepEqual(state.Networks[0].Gateways, []string{"10.244.0.1/16"}) || !state.Networks[0].FabricSNAT {
		t.Errorf("a node without pods: networks %+v, problems %v; want the pod network with its gateway", state.Networks, problems)
	}

	t.Log("a pod of another network, with host ports on its pod network interface: both networks, the forwards")
	p := hostPortPod("c1", "pod1", []string{"10.244.0.5"}, hostPort(agentapi.ProtocolTCP, "127.0.0.1", 54323, 8080))
	state, problems = a.desired(ctx, []agentapi.Port{p, {ContainerID: "c1", IfName: "eth1", HostIfName: agentapi.HostIfName("c1", "eth1"),
		Network: "ns/other", MAC: "02:00:00:00:00:02", IPs: []string{"172.16.0.5"}}})
	if got := names(state); len(problems) != 0 || !reflect.DeepEqual(got, []string{podNetwork, "ns/other"}) {
		t.Errorf("networks %v, problems %v", got, problems)
	}
	if len(state.HostPorts) != 1 || state.HostPorts[0].Port != p.HostIfName || state.HostPorts[0].PodIP != netip.MustParseAddr("10.244.0.5") {
		t.Errorf("forwards = %+v, want pod1's", state.HostPorts)
	}

	t.Log("the pod network's VirtualNetwork deleted: no network, no problem")
	if err := c.Delete(ctx, pods); err != nil {
		t.Fatal(err)
	}
	a.lastUsed = map[string]time.Time{}
	if state, problems = a.desired(ctx, nil); len(state.Networks) != 0 || len(problems) != 0 {
		t.Errorf("without the pod network's VirtualNetwork: networks %v, problems %v", names(state), problems)
	}
}
