package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	"github.com/vishvananda/netlink"

	"github.com/kontrail/kontrail/cni/agentapi"
)

// fakeAgent answers the plugin as the node's agent would for one pod
// (eth0 on the pod network, eth1 on another) and records the ports.
type fakeAgent struct {
	mu    sync.Mutex
	ports []agentapi.Port
}

func (f *fakeAgent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method + " " + r.URL.Path {
	case "POST " + agentapi.PathInterfaces:
		_ = json.NewEncoder(w).Encode(agentapi.Interfaces{PodUID: "uid-1", Interfaces: []agentapi.Interface{
			{Name: "eth0", VMI: "ns/vmi0", Network: "k8s-contrail/default-podnetwork", MAC: "02:00:00:00:01:01", MTU: 1450,
				IPs: []agentapi.IP{{Address: "10.244.0.5/16", Gateway: "10.244.0.1"}}, DefaultRoute: true},
			{Name: "eth1", VMI: "ns/vmi1", Network: "ns/other", MAC: "02:00:00:00:01:02", MTU: 1450,
				IPs: []agentapi.IP{{Address: "172.16.0.5/24"}}}}})
	case "POST " + agentapi.PathPorts:
		var req agentapi.AddPorts
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.ports = append(f.ports, req.Ports...)
		f.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}

// The runtime's port mappings reach the agent as typed host ports on the
// pod's eth0 alone; mappings the node cannot forward fail the ADD before
// anything is plugged, and the agent never hears of the pod's ports.
func TestAddSendsHostPortsOfEth0(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: plugs a pod in network namespaces")
	}
	node, err := testutils.NewNS()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = node.Close(); _ = testutils.UnmountNS(node) }()
	err = node.Do(func(ns.NetNS) error {
		// A path, not an abstract socket: the client dials from threads of
		// any network namespace.
		socket := t.TempDir() + "/agent.sock"
		l, err := net.Listen("unix", socket)
		if err != nil {
			return err
		}
		agent := &fakeAgent{}
		srv := &http.Server{Handler: agent}
		go func() { _ = srv.Serve(l) }()
		defer srv.Shutdown(context.Background()) //nolint:errcheck
		add := func(containerID, mappings string) error {
			pod, err := testutils.NewNS()
			if err != nil {
				return err
			}
			defer func() { _ = pod.Close(); _ = testutils.UnmountNS(pod) }()
			conf := `{"cniVersion":"1.0.0","name":"kontrail","type":"contrail-k8s-cni","socket":"` + socket + `","runtimeConfig":{"portMappings":` + mappings + `}}`
			return Add(&skel.CmdArgs{ContainerID: containerID, Netns: pod.Path(), IfName: "eth0",
				Args: "K8S_POD_NAMESPACE=ns;K8S_POD_NAME=pod", StdinData: []byte(conf)})
		}

		err = add("refused", `[{"hostPort":54323,"containerPort":8080,"protocol":"tcp","hostIP":"::1"}]`)
		var cniErr *types.Error
		if !errors.As(err, &cniErr) || cniErr.Code != types.ErrInvalidNetworkConfig ||
			!strings.Contains(cniErr.Msg, "the host IP is IPv6 but the interface has no IPv6 address") {
			t.Errorf("ADD with an IPv6 host IP on an IPv4 pod = %v, want CNI error 7", err)
		}
		if _, err := netlink.LinkByName(agentapi.HostIfName("refused", "eth0")); err == nil {
			t.Error("a refused ADD left a host end")
		}

		if err := add("accepted", `[{"hostPort":54323,"containerPort":8080,"protocol":"TCP","hostIP":"127.0.0.1"},
			{"hostPort":54323,"containerPort":8080,"protocol":"udp"}]`); err != nil {
			t.Fatalf("ADD: %v", err)
		}
		agent.mu.Lock()
		defer agent.mu.Unlock()
		if len(agent.ports) != 2 {
			t.Fatalf("the agent got ports %+v, want eth0 and eth1 of the accepted ADD alone", agent.ports)
		}
		want := []agentapi.HostPort{
			{HostPort: 54323, ContainerPort: 8080, Protocol: agentapi.ProtocolTCP, HostIP: netip.MustParseAddr("127.0.0.1")},
			{HostPort: 54323, ContainerPort: 8080, Protocol: agentapi.ProtocolUDP}}
		for _, p := range agent.ports {
			switch p.IfName {
			case "eth0":
				if !reflect.DeepEqual(p.HostPorts, want) {
					t.Errorf("eth0's host ports = %v, want %v", p.HostPorts, want)
				}
			default:
				if len(p.HostPorts) != 0 {
					t.Errorf("%s has host ports %v: eth0 alone has them", p.IfName, p.HostPorts)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
