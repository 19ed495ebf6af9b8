package kubemanager

import (
	"net/netip"
	"strings"
	"testing"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
)

// A default-route gateway must be in one of its interface's subnets, of
// either family; one outside them fails the pod as invalid networks.
func TestGatewaysOutside(t *testing.T) {
	cidrs := []netip.Prefix{netip.MustParsePrefix("172.16.40.0/24"), netip.MustParsePrefix("fd00:40::/64")}
	for _, tc := range []struct {
		gateways []string
		want     string // "" when every gateway is inside
	}{
		{gateways: []string{"172.16.40.1"}},
		{gateways: []string{"172.16.40.1", "fd00:40::1"}},
		{gateways: []string{"172.16.41.1"}, want: "default-route 172.16.41.1 of network ns/egress is in none of its subnets"},
		{gateways: []string{"172.16.40.1", "fd00:41::1"}, want: "default-route fd00:41::1"},
		{gateways: []string{"nonsense"}, want: `default-route "nonsense" is not an IP address`},
	} {
		problem := gatewaysOutside(iface{name: "eth1", statusName: "ns/egress", gateways: tc.gateways}, cidrs)
		switch {
		case tc.want == "" && problem != nil:
			t.Errorf("%v: %s", tc.gateways, problem.Message)
		case tc.want != "" && (problem == nil || !strings.Contains(problem.Message, tc.want) || problem.Reason != corev1alpha1.PodProblemInvalidNetworks || problem.Retry):
			t.Errorf("%v: want an invalid-networks problem with %q, got %+v", tc.gateways, tc.want, problem)
		}
	}
	if problem := gatewaysOutside(iface{name: "eth1", gateways: []string{"172.16.40.1"}}, nil); problem == nil {
		t.Error("a gateway on an interface without subnets passed")
	}
}
