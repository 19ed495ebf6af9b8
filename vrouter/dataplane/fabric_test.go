package dataplane

import (
	"net"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// fabricLab is two nodes on a fabric (a veth between two network
// namespaces: node A is the test's, node B its own), and a network of VNI
// 7, 10.90.0.0/24, with pods a1 and a2 on node A and b1 on node B.
type fabricLab struct {
	t            *testing.T
	nodeB        ns.NetNS
	a1, a2, b1   ns.NetNS
	guardsA      []Guard
	guardsB      []Guard
	podsA, podsB []Remote // the pods of each node, as the other node sees them
}

const ffwdVNI = 7

func newFabricLab(t *testing.T) *fabricLab {
	l := &fabricLab{t: t, nodeB: newNS(t)}
	fabric(t, "192.168.100.1/24")
	peer, err := netlink.LinkByName("fabric0p")
	must(t, err)
	must(t, netlink.LinkSetNsFd(peer, int(l.nodeB.Fd())))
	must(t, l.nodeB.Do(func(ns.NetNS) error {
		must(t, netlink.LinkSetName(must2(netlink.LinkByName("fabric0p")), "fabric0"))
		configure(t, "fabric0", "192.168.100.2/24", "")
		return nil
	}))
	type p struct{ host, ip, mac string }
	mk := func(nodeIP string, guards *[]Guard, remotes *[]Remote, pods ...p) []ns.NetNS {
		var out []ns.NetNS
		for _, q := range pods {
			out = append(out, pod(t, q.host, q.ip+"/24", q.mac, "0.0.0.0/0", "10.90.0.1"))
			*guards = append(*guards, Guard{Port: q.host, MAC: mac(q.mac), IPs: []net.IP{net.ParseIP(q.ip)}})
			*remotes = append(*remotes, Remote{MAC: mac(q.mac), NodeIP: net.ParseIP(nodeIP), IPs: []net.IP{net.ParseIP(q.ip)}})
		}
		return out
	}
	a := mk("192.168.100.1", &l.guardsA, &l.podsA, p{"kv0000000000a", "10.90.0.10", "02:00:00:00:0a:01"},
		p{"kv0000000000b", "10.90.0.11", "02:00:00:00:0a:02"})
	l.a1, l.a2 = a[0], a[1]
	must(t, l.nodeB.Do(func(ns.NetNS) error {
		l.b1 = mk("192.168.100.2", &l.guardsB, &l.podsB, p{"kv0000000000c", "10.90.0.12", "02:00:00:00:0b:01"})[0]
		return nil
	}))
	return l
}

// network is the network as node A (a) or B sees it; fabricSNAT is on,
// which forwarding must override.
func (l *fabricLab) network(a, forwarding bool) Network {
	n := Network{Name: "default/ffwd", VNI: ffwdVNI, FabricSNAT: true, FabricForwarding: forwarding}
	if forwarding {
		n.Gateways = []string{"10.90.0.1/24"}
	}
	if a {
		n.Ports, n.Remotes = []string{"kv0000000000a", "kv0000000000b"}, l.podsB
	} else {
		n.Ports, n.Remotes = []string{"kv0000000000c"}, l.podsA
	}
	return n
}

func (l *fabricLab) state(a, forwarding bool) State {
	s := State{FabricIP: net.ParseIP("192.168.100.1"), FabricLink: "fabric0", VxlanPort: 4789, MTU: 1450,
		Networks: []Network{l.network(a, forwarding)}, Guards: l.guardsA}
	if !a {
		s.FabricIP, s.Guards = net.ParseIP("192.168.100.2"), l.guardsB
	}
	return s
}

// reconcile programs both nodes.
func (l *fabricLab) reconcile(forwarding bool) {
	l.t.Helper()
	must(l.t, Reconcile(l.state(true, forwarding)))
	must(l.t, l.nodeB.Do(func(ns.NetNS) error { return Reconcile(l.state(false, forwarding)) }))
}

// onB runs f in node B.
func (l *fabricLab) onB(f func()) {
	must(l.t, l.nodeB.Do(func(ns.NetNS) error { f(); return nil }))
}

// pings checks that the pods reach each other: across the nodes both
// ways and on node A.
func (l *fabricLab) pings() {
	l.t.Helper()
	for _, c := range []struct {
		from ns.NetNS
		name string
		dst  string
	}{{l.a1, "a1", "10.90.0.12"}, {l.b1, "b1", "10.90.0.11"}, {l.a1, "a1", "10.90.0.11"}} {
		if _, err := reach(c.from, c.dst); err != nil {
			l.t.Errorf("%s does not reach %s: %v", c.name, c.dst, err)
		}
	}
}

// kontrailRoutes are the current namespace's routes of RouteProtocol.
func kontrailRoutes(t *testing.T) []string {
	t.Helper()
	rs, err := netlink.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_MAIN, Protocol: RouteProtocol},
		netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL)
	must(t, err)
	var out []string
	for _, r := range rs {
		out = append(out, r.Dst.String()+" via "+r.Gw.String()+" dev "+must2(netlink.LinkByIndex(r.LinkIndex)).Attrs().Name)
	}
	sort.Strings(out)
	return out
}

func sysctl(t *testing.T, path string) string {
	t.Helper()
	v, err := os.ReadFile(path)
	must(t, err)
	return strings.TrimSpace(string(v))
}

// checkMode checks the node's kernel against the mode: forwarding, no
// VXLAN device, the host routes (routes), the gateway and proxy ARP on the
// bridge, no SNAT; overlay, the VXLAN device and none of the others.
func checkMode(t *testing.T, node string, forwarding bool, routes []string) {
	t.Helper()
	has := slices.Contains(links(t), VxlanName(ffwdVNI))
	if has == forwarding {
		t.Errorf("node %s, forwarding %v: VXLAN device %s there: %v (links %v)", node, forwarding, VxlanName(ffwdVNI), has, links(t))
	}
	if forwarding {
		if got := kontrailRoutes(t); !slices.Equal(got, routes) {
			t.Errorf("node %s: fabric routes = %v, want %v", node, got, routes)
		}
	} else if got := kontrailRoutes(t); len(got) != 0 {
		t.Errorf("node %s, overlay: fabric routes left: %v", node, got)
	}
	br := must2(netlink.LinkByName(BridgeName(ffwdVNI)))
	addrs, err := netlink.AddrList(br, netlink.FAMILY_V4)
	must(t, err)
	var got []string
	for _, a := range addrs {
		got = append(got, a.IPNet.String())
	}
	want := []string(nil)
	if forwarding {
		want = []string{"10.90.0.1/24"}
	}
	if !slices.Equal(got, want) {
		t.Errorf("node %s: addresses of %s = %v, want %v", node, br.Attrs().Name, got, want)
	}
	if isGW := slices.Equal(br.Attrs().HardwareAddr, GatewayMAC(ffwdVNI)); isGW != forwarding {
		t.Errorf("node %s: %s has the gateway MAC: %v, want %v", node, br.Attrs().Name, isGW, forwarding)
	}
	proxy := sysctl(t, "/proc/sys/net/ipv4/conf/"+br.Attrs().Name+"/proxy_arp")
	if (proxy == "1") != forwarding {
		t.Errorf("node %s: proxy_arp on %s = %s, forwarding %v", node, br.Attrs().Name, proxy, forwarding)
	}
	if got := snatRules(t); len(got) != 0 {
		t.Errorf("node %s: SNAT rules %v: the network's fabricSNAT is overridden by forwarding, and is not routed otherwise", node, got)
	}
}

// sourceSeenByB is the address node B sees a TCP connection from pod come from.
func (l *fabricLab) sourceSeenByB(from ns.NetNS) string {
	l.t.Helper()
	var ln net.Listener
	l.onB(func() {
		var err error
		ln, err = net.Listen("tcp", "192.168.100.2:7000")
		must(l.t, err)
	})
	defer ln.Close()
	seen := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			seen <- err.Error()
			return
		}
		seen <- c.RemoteAddr().(*net.TCPAddr).IP.String()
		c.Close()
	}()
	must(l.t, from.Do(func(ns.NetNS) error {
		c, err := net.DialTimeout("tcp", "192.168.100.2:7000", 5*time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	}))
	return <-seen
}

var (
	routesOnA = []string{"10.90.0.12/32 via 192.168.100.2 dev fabric0"}
	routesOnB = []string{"10.90.0.10/32 via 192.168.100.1 dev fabric0", "10.90.0.11/32 via 192.168.100.1 dev fabric0"}
)

// TestFabricForwarding: a network with fabricForwarding is routed on the
// fabric without the overlay: no VXLAN device, a host route per remote
// pod via its node, proxy ARP; its pods reach each other across nodes
// and leave with their own addresses (fabricSNAT is set too, and
// ignored). Reconcile repairs a deleted route, removes its own stale
// ones and no other, and moves the network between the modes both ways
// with the pods attached, leaving nothing of the other mode.
func TestFabricForwarding(t *testing.T) {
	inNewNS(t, func() {
		l := newFabricLab(t)
		l.reconcile(true)
		checkMode(t, "A", true, routesOnA)
		l.onB(func() { checkMode(t, "B", true, routesOnB) })
		if got := sysctl(t, "/proc/sys/net/ipv4/ip_forward"); got != "1" {
			t.Errorf("node A ip_forward = %s, want 1 (it routes the network)", got)
		}
		l.pings()
		if got := l.sourceSeenByB(l.a1); got != "10.90.0.10" {
			t.Errorf("node B sees a1 (10.90.0.10) as %s: the pod must leave with its own address", got)
		}

		t.Log("drift: a host route deleted by hand is missed, and Reconcile puts it back")
		_, dst, _ := net.ParseCIDR("10.90.0.12/32")
		must(t, netlink.RouteDel(&netlink.Route{Dst: dst, Table: unix.RT_TABLE_MAIN, Protocol: RouteProtocol}))
		if _, err := ping(l.a1, "10.90.0.12"); err == nil {
			t.Fatal("a1 reaches b1 without the host route: the test proves nothing")
		}
		t.Log("a stale route of Kontrail's goes; a route of another protocol stays")
		_, stale, _ := net.ParseCIDR("10.90.0.99/32")
		_, foreign, _ := net.ParseCIDR("10.99.0.0/24")
		fab := must2(netlink.LinkByName("fabric0"))
		must(t, netlink.RouteAdd(&netlink.Route{Dst: stale, Gw: net.ParseIP("192.168.100.2"), LinkIndex: fab.Attrs().Index, Protocol: RouteProtocol}))
		must(t, netlink.RouteAdd(&netlink.Route{Dst: foreign, Gw: net.ParseIP("192.168.100.2"), LinkIndex: fab.Attrs().Index, Protocol: unix.RTPROT_STATIC}))
		l.reconcile(true)
		checkMode(t, "A", true, routesOnA)
		if rs, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Dst: foreign}, netlink.RT_FILTER_DST); err != nil || len(rs) != 1 {
			t.Errorf("the static route to %s: %v (%v), want it kept", foreign, rs, err)
		}
		l.pings()

		t.Log("forwarding off with the pods attached: the overlay carries the network, nothing of forwarding left")
		l.reconcile(false)
		checkMode(t, "A", false, nil)
		l.onB(func() { checkMode(t, "B", false, nil) })
		if got, want := fdb(t, VxlanName(ffwdVNI)), []string{"00:00:00:00:00:00 192.168.100.2", "02:00:00:00:0b:01 192.168.100.2"}; !slices.Equal(got, want) {
			t.Errorf("FDB of %s = %v, want %v", VxlanName(ffwdVNI), got, want)
		}
		// Within reach's 5 s: the pods' neighbour entries of the other
		// node's pods (the gateway MAC) would hold for 15 to 45 s more.
		l.pings()

		t.Log("forwarding on again: no VXLAN device, the routes back")
		l.reconcile(true)
		checkMode(t, "A", true, routesOnA)
		l.onB(func() { checkMode(t, "B", true, routesOnB) })
		l.pings()
		if got := l.sourceSeenByB(l.a2); got != "10.90.0.11" {
			t.Errorf("node B sees a2 (10.90.0.11) as %s", got)
		}

		t.Log("nothing wanted: the routes go with the network")
		must(t, Reconcile(State{FabricIP: net.ParseIP("192.168.100.1"), FabricLink: "fabric0", VxlanPort: 4789, MTU: 1450}))
		if got := kontrailRoutes(t); len(got) != 0 {
			t.Errorf("fabric routes left: %v", got)
		}
		if slices.Contains(links(t), BridgeName(ffwdVNI)) {
			t.Errorf("%s left", BridgeName(ffwdVNI))
		}
	})
}
