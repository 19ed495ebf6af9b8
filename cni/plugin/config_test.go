package plugin

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/kontrail/kontrail/cni/agentapi"
)

// stdin is the configuration containerd passes for the conflist's plugin
// when the pod has host ports (runtimeConfig.portMappings).
func stdin(mappings string) []byte {
	return []byte(`{"cniVersion":"1.0.0","name":"kontrail","type":"contrail-k8s-cni","socket":"@test","capabilities":{"portMappings":true},
		"runtimeConfig":{"portMappings":` + mappings + `}}`)
}

var v4Pod = []netip.Addr{netip.MustParseAddr("10.244.0.5")}

func TestPortMappingsParse(t *testing.T) {
	conf, _, err := parseConf(stdin(`[
		{"hostPort":54323,"containerPort":8080,"protocol":"tcp","hostIP":"127.0.0.1"},
		{"hostPort":54323,"containerPort":8080,"protocol":"TCP","hostIP":"192.168.100.1"},
		{"hostPort":54323,"containerPort":8080,"protocol":"Udp","hostIP":"192.168.100.1"},
		{"hostPort":80,"containerPort":8080,"protocol":"sctp"},
		{"hostPort":81,"containerPort":8081,"protocol":"","hostIP":"0.0.0.0"},
		{"hostPort":82,"containerPort":8082,"protocol":"tcp","hostIP":"::ffff:192.168.100.1"}]`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := hostPorts(conf.RuntimeConfig.PortMappings, v4Pod)
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr
	want := []agentapi.HostPort{
		{HostPort: 54323, ContainerPort: 8080, Protocol: agentapi.ProtocolTCP, HostIP: ip("127.0.0.1")},
		{HostPort: 54323, ContainerPort: 8080, Protocol: agentapi.ProtocolTCP, HostIP: ip("192.168.100.1")},
		{HostPort: 54323, ContainerPort: 8080, Protocol: agentapi.ProtocolUDP, HostIP: ip("192.168.100.1")},
		{HostPort: 80, ContainerPort: 8080, Protocol: agentapi.ProtocolSCTP},
		{HostPort: 81, ContainerPort: 8081, Protocol: agentapi.ProtocolTCP, HostIP: ip("0.0.0.0")}, // Kubernetes' default protocol
		{HostPort: 82, ContainerPort: 8082, Protocol: agentapi.ProtocolTCP, HostIP: ip("192.168.100.1")},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("host ports = %v, want %v", got, want)
	}
	// No runtimeConfig (a pod without host ports, or a runtime that
	// passes none): nothing, and no error.
	conf, _, err = parseConf([]byte(`{"cniVersion":"1.0.0","name":"kontrail","type":"contrail-k8s-cni","socket":"@test"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := hostPorts(conf.RuntimeConfig.PortMappings, v4Pod); err != nil || len(got) != 0 {
		t.Errorf("no mappings: %v, %v", got, err)
	}
}

// What the runtime may pass that the node cannot forward is refused as
// an invalid configuration (CNI code 7), naming the mapping and why.
func TestPortMappingsRefused(t *testing.T) {
	dualStack := append([]netip.Addr{netip.MustParseAddr("fd00::5")}, v4Pod...)
	for _, tc := range []struct {
		mappings string
		ips      []netip.Addr
		want     string
	}{
		{`[{"hostPort":0,"containerPort":80,"protocol":"tcp"}]`, v4Pod, "portMappings[0] (hostPort 0, containerPort 80, protocol \"tcp\", hostIP \"\"): the host port is not in 1-65535"},
		{`[{"hostPort":65536,"containerPort":80,"protocol":"tcp"}]`, v4Pod, "the host port is not in 1-65535"},
		{`[{"hostPort":-1,"containerPort":80,"protocol":"tcp"}]`, v4Pod, "the host port is not in 1-65535"},
		{`[{"hostPort":80,"containerPort":0,"protocol":"tcp"}]`, v4Pod, "the container port is not in 1-65535"},
		{`[{"hostPort":80,"containerPort":70000,"protocol":"tcp"}]`, v4Pod, "the container port is not in 1-65535"},
		{`[{"hostPort":80,"containerPort":80,"protocol":"tcp"},{"hostPort":80,"containerPort":80,"protocol":"icmp"}]`, v4Pod,
			`portMappings[1] (hostPort 80, containerPort 80, protocol "icmp", hostIP ""): protocol "icmp" is not tcp, udp or sctp`},
		{`[{"hostPort":80,"containerPort":80,"protocol":"tcp","hostIP":"node-1"}]`, v4Pod, "the host IP is not an IP address"},
		{`[{"hostPort":80,"containerPort":80,"protocol":"tcp","hostIP":"10.0.0.0/8"}]`, v4Pod, "the host IP is not an IP address"},
		{`[{"hostPort":80,"containerPort":80,"protocol":"tcp","hostIP":"fe80::1%eth0"}]`, dualStack, "a host IP with a zone is not supported"},
		{`[{"hostPort":80,"containerPort":80,"protocol":"tcp","hostIP":"::1"}]`, v4Pod, "tcp [::1]:80 -> 80: the host IP is IPv6 but the interface has no IPv6 address"},
		{`[{"hostPort":80,"containerPort":80,"protocol":"tcp","hostIP":"127.0.0.1"}]`, dualStack[:1], "the host IP is IPv4 but the interface has no IPv4 address"},
		{`[{"hostPort":80,"containerPort":80,"protocol":"tcp"},{"hostPort":80,"containerPort":81,"protocol":"TCP"}]`, v4Pod, "host port tcp *:80 -> 81: given twice"},
	} {
		conf, _, err := parseConf(stdin(tc.mappings))
		if err != nil {
			t.Fatalf("%s: %v", tc.mappings, err)
		}
		_, err = hostPorts(conf.RuntimeConfig.PortMappings, tc.ips)
		var cniErr *types.Error
		if !errors.As(err, &cniErr) || cniErr.Code != types.ErrInvalidNetworkConfig || !strings.Contains(cniErr.Msg, tc.want) {
			t.Errorf("%s: %v, want CNI error 7 saying %q", tc.mappings, err, tc.want)
		}
	}
	// IPv6 forwards are fine where the pod has IPv6.
	conf, _, _ := parseConf(stdin(`[{"hostPort":80,"containerPort":80,"protocol":"tcp","hostIP":"::1"},{"hostPort":80,"containerPort":80,"protocol":"tcp","hostIP":"127.0.0.1"}]`))
	if _, err := hostPorts(conf.RuntimeConfig.PortMappings, dualStack); err != nil {
		t.Errorf("a dual-stack pod's IPv4 and IPv6 forwards: %v", err)
	}
}

// DEL, CHECK and GC never fail on the runtime's mappings: DEL must always
// clean up (the runtime retries a failing DEL forever).
func TestPortMappingsDoNotFailParseConf(t *testing.T) {
	if _, _, err := parseConf(stdin(`[{"hostPort":0,"containerPort":-3,"protocol":"icmp","hostIP":"nonsense"}]`)); err != nil {
		t.Errorf("parseConf with invalid mappings: %v", err)
	}
}
