package agent

import (
	"context"
	"net"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
	"github.com/kontrail/kontrail/cni/agentapi"
)

// A network with fabricForwarding is routed by the node (its gateways on
// the bridge), its remote endpoints carry their addresses (the host
// routes), its fabricSNAT is dropped (forwarding takes precedence), and
// the router leaves it out: it has no leg, and a network importing it
// does not import it there.
func TestDesiredForwardingNetwork(t *testing.T) {
	scheme := runtime.NewScheme()
	_ = corev1.AddToScheme(scheme)
	_ = corev1alpha1.AddToScheme(scheme)
	fwd := &corev1alpha1.VirtualNetwork{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "fwd"}}
	fwd.Spec.FabricForwarding, fwd.Spec.FabricSNAT = true, true
	fwd.Spec.V4SubnetReference = &corev1alpha1.ResourceReference{Namespace: "ns", Name: "fwd-v4"}
	fwd.Status.VirtualNetworkNetworkID = 7
	subnet := &corev1alpha1.Subnet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "fwd-v4"}}
	subnet.Spec.CIDR, subnet.Spec.DefaultGateway = "10.90.0.0/24", "10.90.0.1"
	other := &corev1alpha1.VirtualNetwork{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "other"}}
	other.Status.VirtualNetworkNetworkID = 8
	remote := &corev1alpha1.VirtualRouter{ObjectMeta: metav1.ObjectMeta{Name: "n2"}}
	remote.Spec.VirtualRouterIPAddress = "192.168.100.2"
	remote.Status.Endpoints = []corev1alpha1.Endpoint{{Network: "ns/fwd", MAC: "02:00:00:00:00:0b", IPs: []string{"10.90.0.12"}}}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(fwd, subnet, other, remote).Build()
	a := &Agent{cfg: Config{NodeName: "n1", CNIClusterName: "k8s", IdleNetworkSeconds: 120}, client: c, ports: mustPortStore(t),
		pending: map[string]time.Time{}, lastUsed: map[string]time.Time{}}
	ctx := context.Background()
	ports := []agentapi.Port{
		{ContainerID: "c1", IfName: "eth1", HostIfName: agentapi.HostIfName("c1", "eth1"), Network: "ns/fwd", MAC: "02:00:00:00:00:0a", IPs: []string{"10.90.0.10"}},
		{ContainerID: "c2", IfName: "eth1", HostIfName: agentapi.HostIfName("c2", "eth1"), Network: "ns/other", MAC: "02:00:00:00:00:0c", IPs: []string{"172.16.0.5"}},
	}
	state, problems := a.desired(ctx, ports)
	if len(problems) != 0 {
		t.Fatalf("problems: %v", problems)
	}
	var found bool
	for _, n := range state.Networks {
		if n.Name != "ns/fwd" {
			if n.FabricForwarding || len(n.Gateways) != 0 {
				t.Errorf("network %s: forwarding %v, gateways %v: want neither", n.Name, n.FabricForwarding, n.Gateways)
			}
			continue
		}
		found = true
		if !n.FabricForwarding || n.FabricSNAT || !reflect.DeepEqual(n.Gateways, []string{"10.90.0.1/24"}) {
			t.Errorf("ns/fwd: forwarding %v, SNAT %v, gateways %v: want forwarding, no SNAT, the gateway", n.FabricForwarding, n.FabricSNAT, n.Gateways)
		}
		if len(n.Remotes) != 1 || !n.Remotes[0].NodeIP.Equal(net.ParseIP("192.168.100.2")) || len(n.Remotes[0].IPs) != 1 ||
			!n.Remotes[0].IPs[0].Equal(net.ParseIP("10.90.0.12")) {
			t.Errorf("ns/fwd remotes = %+v, want 10.90.0.12 on 192.168.100.2", n.Remotes)
		}
	}
	if !found {
		t.Fatalf("networks %+v lack ns/fwd", state.Networks)
	}
	r := a.router(ctx, state, map[string][]string{"ns/other": {"ns/fwd"}, "ns/fwd": {"ns/other"}}, ports, nil)
	if len(r.Networks) != 1 || r.Networks[0].Name != "ns/other" || len(r.Networks[0].Imports) != 0 {
		t.Errorf("router networks = %+v, want ns/other alone, importing nothing", r.Networks)
	}
}
