package dataplane

import (
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// pod makes a pod's network namespace with eth0 on the host end name (in
// the current namespace), address addr and, when route is set, the route
// "route via gw" a user adds to reach another network.
func pod(t *testing.T, name, addr, mac, route, gw string) ns.NetNS {
	t.Helper()
	podNS, err := testutils.NewNS()
	must(t, err)
	t.Cleanup(func() { _ = podNS.Close(); _ = testutils.UnmountNS(podNS) })
	attrs := netlink.NewLinkAttrs()
	attrs.Name = name
	must(t, netlink.LinkAdd(&netlink.Veth{LinkAttrs: attrs, PeerName: "eth0", PeerNamespace: netlink.NsFd(podNS.Fd()),
		PeerHardwareAddr: mustMAC(t, mac)}))
	must(t, podNS.Do(func(ns.NetNS) error {
		l, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		a, _ := netlink.ParseAddr(addr)
		if err := netlink.AddrAdd(l, a); err != nil {
			return err
		}
		if err := netlink.LinkSetUp(l); err != nil {
			return err
		}
		if route != "" {
			_, dst, _ := net.ParseCIDR(route)
			return netlink.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Dst: dst, Gw: net.ParseIP(gw)})
		}
		return nil
	}))
	return podNS
}

func mustMAC(t *testing.T, s string) net.HardwareAddr {
	t.Helper()
	m, err := net.ParseMAC(s)
	must(t, err)
	return m
}

// ping pings dst from inside podNS and returns ping's output.
func ping(podNS ns.NetNS, dst string) (string, error) {
	var out []byte
	err := podNS.Do(func(ns.NetNS) error {
		var err error
		out, err = exec.Command("ping", "-c", "2", "-i", "0.2", "-W", "1", dst).CombinedOutput()
		return err
	})
	if err != nil {
		return "", fmt.Errorf("ping %s: %v: %s", dst, err, out)
	}
	return string(out), nil
}

// reach pings dst until it answers, for up to 5 s: a pod that just failed
// to resolve its gateway (the router not there yet) holds that failure for
// a few seconds, and a link just brought up carries nothing until the
// kernel's link watch turns it on.
func reach(podNS ns.NetNS, dst string) (string, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, err := ping(podNS, dst)
		if err == nil || time.Now().After(deadline) {
			return out, err
		}
	}
}

// TestRouterRoutesWhatRouteTargetsImport: two networks on one node, each
// pod routing the other's subnet via its gateway (as a CN2 user does). The
// router forwards only what the networks import, both ways for a reply.
func TestRouterRoutesWhatRouteTargetsImport(t *testing.T) {
	inNewNS(t, func() {
		fabric(t, "192.168.100.1/24")
		pod1 := pod(t, "kv00000000001", "172.16.10.2/24", "02:00:00:00:10:02", "172.16.20.0/24", "172.16.10.1")
		pod2 := pod(t, "kv00000000002", "172.16.20.2/24", "02:00:00:00:20:02", "172.16.10.0/24", "172.16.20.1")
		routerNS, err := NewRouterNS()
		must(t, err)
		defer routerNS.Close()

		vn1 := RoutedNetwork{Name: "default/vn1", VNI: 5, Gateways: []string{"172.16.10.1/24"},
			Neighbors: []Neighbor{{IP: net.ParseIP("172.16.10.2"), MAC: mac("02:00:00:00:10:02")}}}
		vn2 := RoutedNetwork{Name: "default/vn2", VNI: 6, Gateways: []string{"172.16.20.1/24"},
			Neighbors: []Neighbor{{IP: net.ParseIP("172.16.20.2"), MAC: mac("02:00:00:00:20:02")}}}
		state := func(routed ...RoutedNetwork) State {
			s := State{FabricIP: net.ParseIP("192.168.100.1"), FabricLink: "fabric0", VxlanPort: 4789, MTU: 1450,
				Networks: []Network{{Name: "default/vn1", VNI: 5, Ports: []string{"kv00000000001"}},
					{Name: "default/vn2", VNI: 6, Ports: []string{"kv00000000002"}}},
				Guards: []Guard{{Port: "kv00000000001", MAC: mac("02:00:00:00:10:02"), IPs: []net.IP{net.ParseIP("172.16.10.2")}},
					{Port: "kv00000000002", MAC: mac("02:00:00:00:20:02"), IPs: []net.IP{net.ParseIP("172.16.20.2")}}}}
			if routed != nil {
				s.Router = &Router{NS: routerNS, Networks: routed}
			}
			return s
		}

		t.Log("no route target in common: no leg, no reach")
		must(t, Reconcile(state()))
		if _, err := ping(pod1, "172.16.20.2"); err == nil {
			t.Fatal("vn1's pod reaches vn2's pod with no routing between them")
		}

		t.Log("vn1 imports vn2 and vn2 imports vn1 (a mesh): both reach the other, one hop")
		vn1.Imports, vn2.Imports = []uint32{6}, []uint32{5}
		must(t, Reconcile(state(vn1, vn2)))
		out, err := reach(pod1, "172.16.20.2")
		must(t, err)
		if !strings.Contains(out, "ttl=63") {
			t.Errorf("want one routed hop (ttl=63): %s", out)
		}
		if testing.Verbose() {
			t.Log(out)
		}
		_, err = reach(pod2, "172.16.10.2")
		must(t, err)
		must(t, Reconcile(state(vn1, vn2))) // idempotent
		_, err = reach(pod2, "172.16.10.2")
		must(t, err)

		t.Log("vn2 stops importing vn1: requests reach vn2, replies have no way back")
		vn2.Imports = nil
		must(t, Reconcile(state(vn1, vn2)))
		if _, err := ping(pod1, "172.16.20.2"); err == nil {
			t.Error("vn1's pod gets replies from vn2, which no longer imports vn1")
		}

		t.Log("nothing routed: the legs go, the router's rules too, the pods' own links stay")
		empty := state()
		empty.Router = &Router{NS: routerNS}
		must(t, Reconcile(empty))
		h, err := netlink.NewHandleAt(netns.NsHandle(routerNS.Fd()))
		must(t, err)
		defer h.Close()
		rules, err := h.RuleList(netlink.FAMILY_V4)
		must(t, err)
		for _, r := range rules {
			if r.Table >= tableBase {
				t.Errorf("rule to table %d left in the router", r.Table)
			}
		}
		for _, l := range links(t) {
			if len(l) > 2 && l[:2] == LegPrefix {
				t.Errorf("leg %s left on the node", l)
			}
		}
		if _, err := netlink.LinkByName("kv00000000001"); err != nil {
			t.Error(err)
		}
	})
}
