package agentapi

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// Two forwards overlap as the scheduler's host port check says: same
// protocol and port, and the same host IP or one of every address (of a
// family both apply to).
func TestHostPortOverlaps(t *testing.T) {
	hp := func(proto Protocol, ip string, port uint16) HostPort {
		h := HostPort{HostPort: port, ContainerPort: 8080, Protocol: proto}
		if ip != "" {
			h.HostIP = netip.MustParseAddr(ip)
		}
		return h
	}
	for _, tc := range []struct {
		a, b HostPort
		want bool
	}{
		// The conformance test's three pods share port 54323.
		{hp(ProtocolTCP, "127.0.0.1", 54323), hp(ProtocolTCP, "10.0.0.1", 54323), false},
		{hp(ProtocolTCP, "10.0.0.1", 54323), hp(ProtocolUDP, "10.0.0.1", 54323), false},
		{hp(ProtocolTCP, "10.0.0.1", 54323), hp(ProtocolTCP, "10.0.0.1", 54324), false},
		{hp(ProtocolTCP, "10.0.0.1", 54323), hp(ProtocolTCP, "10.0.0.1", 54323), true},
		{hp(ProtocolTCP, "", 80), hp(ProtocolTCP, "10.0.0.1", 80), true},
		{hp(ProtocolTCP, "", 80), hp(ProtocolTCP, "fd00::1", 80), true},
		{hp(ProtocolTCP, "0.0.0.0", 80), hp(ProtocolTCP, "10.0.0.1", 80), true},
		{hp(ProtocolTCP, "0.0.0.0", 80), hp(ProtocolTCP, "fd00::1", 80), false}, // 0.0.0.0 is IPv4's every address
		{hp(ProtocolTCP, "::", 80), hp(ProtocolTCP, "fd00::1", 80), true},
		{hp(ProtocolTCP, "::", 80), hp(ProtocolTCP, "0.0.0.0", 80), false},
	} {
		if got := tc.a.Overlaps(tc.b); got != tc.want || tc.b.Overlaps(tc.a) != got {
			t.Errorf("%s overlaps %s = %v, want %v (both ways)", tc.a, tc.b, got, tc.want)
		}
	}
}

// A port's host ports survive its JSON (the agent's ports.json): a host
// port of every address has no hostIP at all.
func TestHostPortJSON(t *testing.T) {
	in := Port{ContainerID: "c", IfName: "eth0", HostPorts: []HostPort{
		{HostPort: 80, ContainerPort: 8080, Protocol: ProtocolTCP},
		{HostPort: 53, ContainerPort: 5353, Protocol: ProtocolUDP, HostIP: netip.MustParseAddr("fd00::1")}}}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	want := `"hostPorts":[{"hostPort":80,"containerPort":8080,"protocol":"tcp"},{"hostPort":53,"containerPort":5353,"protocol":"udp","hostIP":"fd00::1"}]`
	if !strings.Contains(string(data), want) {
		t.Errorf("JSON = %s, want it to hold %s", data, want)
	}
	var out Port
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip = %+v, want %+v", out, in)
	}
}
