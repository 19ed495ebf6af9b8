package dataplane

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// These tests need root: they program a real network namespace.
func inNewNS(t *testing.T, f func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: programs links in a new network namespace")
	}
	netns, err := testutils.NewNS()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netns.Close(); _ = testutils.UnmountNS(netns) })
	if err := netns.Do(func(ns.NetNS) error { f(); return nil }); err != nil {
		t.Fatal(err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// fabric makes a fabric link with addr: a veth, as this kernel has no
// dummy links.
func fabric(t *testing.T, addr string) {
	t.Helper()
	attrs := netlink.NewLinkAttrs()
	attrs.Name = "fabric0"
	must(t, netlink.LinkAdd(&netlink.Veth{LinkAttrs: attrs, PeerName: "fabric0p"}))
	l, err := netlink.LinkByName("fabric0")
	must(t, err)
	a, err := netlink.ParseAddr(addr)
	must(t, err)
	must(t, netlink.AddrAdd(l, a))
	must(t, netlink.LinkSetUp(l))
}

// port makes a veth pair as the plugin would leave its host end (the
// peer would be in the pod: here it is named pod<n>).
func port(t *testing.T, name, peer string) {
	t.Helper()
	attrs := netlink.NewLinkAttrs()
	attrs.Name = name
	must(t, netlink.LinkAdd(&netlink.Veth{LinkAttrs: attrs, PeerName: peer}))
}

func links(t *testing.T) []string {
	t.Helper()
	ls, err := netlink.LinkList()
	must(t, err)
	var out []string
	for _, l := range ls {
		out = append(out, l.Attrs().Name)
	}
	sort.Strings(out)
	return out
}

// fdb lists the VXLAN device's own entries on dev ("MAC dst").
func fdb(t *testing.T, dev string) []string {
	return fdbEntries(t, dev, func(n netlink.Neigh) string {
		if n.IP == nil {
			return ""
		}
		return n.HardwareAddr.String() + " " + n.IP.String()
	})
}

// bridgeFDB lists the bridge's static entries on port dev.
func bridgeFDB(t *testing.T, dev string) []string {
	return fdbEntries(t, dev, func(n netlink.Neigh) string {
		if n.MasterIndex == 0 || n.State != netlink.NUD_NOARP {
			return ""
		}
		return n.HardwareAddr.String()
	})
}

// fdbEntries lists dev's forwarding entries that show says something of.
func fdbEntries(t *testing.T, dev string, show func(netlink.Neigh) string) []string {
	t.Helper()
	l, err := netlink.LinkByName(dev)
	must(t, err)
	ns, err := netlink.NeighList(l.Attrs().Index, unix.AF_BRIDGE)
	must(t, err)
	var out []string
	for _, n := range ns {
		if s := show(n); s != "" {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func mac(s string) net.HardwareAddr {
	m, _ := net.ParseMAC(s)
	return m
}

func TestReconcileBuildsRepairsAndRemoves(t *testing.T) {
	inNewNS(t, func() {
		fabric(t, "192.168.100.1/24")
		port(t, "kv00000000001", "pod1")
		port(t, "kv00000000002", "pod2")
		state := State{FabricIP: net.ParseIP("192.168.100.1"), FabricLink: "fabric0", VxlanPort: 4789, MTU: 1450,
			Networks: []Network{
				{Name: "default/vn1", VNI: 5, Ports: []string{"kv00000000001"},
					Remotes: []Remote{{MAC: mac("02:00:00:00:00:0a"), NodeIP: net.ParseIP("192.168.100.2")},
						{MAC: mac("02:00:00:00:00:0b"), NodeIP: net.ParseIP("192.168.100.3")}}},
				// Same pod CIDR as vn1 would not matter: the domains are L2 and apart.
				{Name: "default/vn2", VNI: 6, Ports: []string{"kv00000000002"}, Gateways: []string{"10.244.0.1/16"}, FabricSNAT: true},
			},
			Guards: []Guard{{Port: "kv00000000001", MAC: mac("02:00:00:00:00:01"), IPs: []net.IP{net.ParseIP("10.0.0.2")}},
				{Port: "kv00000000002", MAC: mac("02:00:00:00:00:02"), IPs: []net.IP{net.ParseIP("10.244.0.2")}}}}
		must(t, Reconcile(state))

		for _, want := range []string{"kbr5", "kvx5", "kbr6", "kvx6"} {
			if !slices.Contains(links(t), want) {
				t.Fatalf("links %v lack %s", links(t), want)
			}
		}
		guards, err := GuardRules()
		must(t, err)
		if len(guards) != 3 || guards["prerouting"] != 1 || guards["port-kv00000000001"] == 0 || guards["port-kv00000000002"] == 0 {
			t.Errorf("guard chains = %v, want prerouting and one per port", guards)
		}
		// The routed network's bridge hands its IP frames to the node's
		// netfilter (kube-proxy's replies bridged between pods); the
		// others do not.
		if got := bridgeNetfilter(t, "kbr6"); got != "1 1" {
			t.Errorf("kbr6 (routed) nf_call_iptables/ip6tables = %s, want 1 1", got)
		}
		if got := bridgeNetfilter(t, "kbr5"); got != "0 0" {
			t.Errorf("kbr5 nf_call_iptables/ip6tables = %s, want 0 0", got)
		}
		// The routed network's ports hairpin (a pod reaching a Service it
		// backs), the others do not; the node forwards for the routed one.
		for port, want := range map[string]bool{"kv00000000002": true, "kv00000000001": false} {
			l, err := netlink.LinkByName(port)
			must(t, err)
			pi, err := netlink.LinkGetProtinfo(l)
			must(t, err)
			if pi.Hairpin != want {
				t.Errorf("%s hairpin = %v, want %v", port, pi.Hairpin, want)
			}
		}
		if fwd, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); err != nil || string(fwd) != "1\n" {
			t.Errorf("ip_forward = %q (%v), want 1", fwd, err)
		}
		// The routed network with fabricSNAT leaves through the fabric
		// with the node's address: one masquerade rule, for its prefix.
		if got := snatRules(t); len(got) != 1 || !strings.Contains(got[0], "10.244.0.0 mask 255.255.0.0") || !strings.Contains(got[0], "masq") {
			t.Errorf("SNAT rules = %v, want one masquerade of 10.244.0.0/16 out of fabric0", got)
		}
		gw, err := netlink.AddrList(must2(netlink.LinkByName("kbr6")), netlink.FAMILY_V4)
		must(t, err)
		if len(gw) != 1 || gw[0].IPNet.String() != "10.244.0.1/16" || gw[0].Scope != unix.RT_SCOPE_LINK {
			t.Errorf("addresses of kbr6 = %v, want the gateway 10.244.0.1/16 of scope link", gw)
		}
		// The node reaches the routed network's pods from its fabric
		// address (every node holds the same gateway address).
		kbr6, err := netlink.LinkByName("kbr6")
		must(t, err)
		routes, err := netlink.RouteList(kbr6, netlink.FAMILY_V4)
		must(t, err)
		if len(routes) != 1 || routes[0].Dst.String() != "10.244.0.0/16" || !routes[0].Src.Equal(net.ParseIP("192.168.100.1")) {
			t.Errorf("routes of kbr6 = %v, want 10.244.0.0/16 from 192.168.100.1", routes)
		}
		vx, err := netlink.LinkByName("kvx5")
		must(t, err)
		if v := vx.(*netlink.Vxlan); v.VxlanId != 5 || v.Learning || v.Port != 4789 || !v.SrcAddr.Equal(net.ParseIP("192.168.100.1")) {
			t.Errorf("kvx5 = id %d learning %v port %d local %s", v.VxlanId, v.Learning, v.Port, v.SrcAddr)
		}
		br5, _ := netlink.LinkByName("kbr5")
		p1, _ := netlink.LinkByName("kv00000000001")
		if p1.Attrs().MasterIndex != br5.Attrs().Index || vx.Attrs().MasterIndex != br5.Attrs().Index {
			t.Error("the port and the VXLAN device are not on kbr5")
		}
		wantFDB := []string{"00:00:00:00:00:00 192.168.100.2", "00:00:00:00:00:00 192.168.100.3",
			"02:00:00:00:00:0a 192.168.100.2", "02:00:00:00:00:0b 192.168.100.3"}
		if got := fdb(t, "kvx5"); !slices.Equal(got, wantFDB) {
			t.Errorf("FDB of kvx5 = %v, want %v", got, wantFDB)
		}
		if got, want := bridgeFDB(t, "kvx5"), []string{"02:00:00:00:00:0a", "02:00:00:00:00:0b"}; !slices.Equal(got, want) {
			t.Errorf("kbr5's static entries on kvx5 = %v, want %v", got, want)
		}
		if got := fdb(t, "kvx6"); len(got) != 0 {
			t.Errorf("vn2 has no remote endpoint, yet its FDB is %v", got)
		}

		t.Log("drift: a deleted bridge and FDB entry come back")
		must(t, netlink.LinkDel(br5))
		vx, _ = netlink.LinkByName("kvx5")
		must(t, netlink.NeighDel(&netlink.Neigh{LinkIndex: vx.Attrs().Index, Family: unix.AF_BRIDGE, Flags: netlink.NTF_SELF,
			HardwareAddr: mac("02:00:00:00:00:0a"), IP: net.ParseIP("192.168.100.2")}))
		must(t, Reconcile(state))
		if got := fdb(t, "kvx5"); !slices.Equal(got, wantFDB) {
			t.Errorf("after repair, FDB of kvx5 = %v, want %v", got, wantFDB)
		}
		br5, _ = netlink.LinkByName("kbr5")
		p1, _ = netlink.LinkByName("kv00000000001")
		if p1.Attrs().MasterIndex != br5.Attrs().Index {
			t.Error("after repair, the port is not on the new kbr5")
		}

		t.Log("a remote endpoint leaves: its entries go, the node's flood entry too when it hosts nothing else")
		state.Networks[0].Remotes = state.Networks[0].Remotes[:1]
		must(t, Reconcile(state))
		if got, want := fdb(t, "kvx5"), []string{"00:00:00:00:00:00 192.168.100.2", "02:00:00:00:00:0a 192.168.100.2"}; !slices.Equal(got, want) {
			t.Errorf("FDB of kvx5 = %v, want %v", got, want)
		}

		t.Log("a host end made after the state was computed (the plugin's, just now) stays while still wanted")
		port(t, "kv00000000009", "pod9")
		late := State{FabricIP: state.FabricIP, FabricLink: "fabric0", VxlanPort: 4789, MTU: 1450,
			Networks: state.Networks, Guards: state.Guards, StillWanted: func(name string) bool { return name == "kv00000000009" }}
		must(t, Reconcile(late))
		if !slices.Contains(links(t), "kv00000000009") {
			t.Error("a host end still wanted at removal time was removed")
		}

		t.Log("nothing wanted: everything Kontrail made goes, the rest stays")
		must(t, Reconcile(State{FabricIP: state.FabricIP, FabricLink: "fabric0", VxlanPort: 4789, MTU: 1450}))
		// Deleting a host end deletes its peer too.
		if got, want := links(t), []string{"fabric0", "fabric0p", "lo"}; !slices.Equal(got, want) {
			t.Errorf("links left = %v, want %v", got, want)
		}
		if guards, err := GuardRules(); err != nil || len(guards) != 0 {
			t.Errorf("guard chains left = %v (%v)", guards, err)
		}
		if got := snatRules(t); len(got) != 0 {
			t.Errorf("SNAT rules left = %v", got)
		}
	})
}

// snatRules describes the rules of the SNAT table's postrouting chain.
func snatRules(t *testing.T) []string {
	t.Helper()
	c, err := nftables.New()
	must(t, err)
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	must(t, err)
	var table *nftables.Table
	for _, tb := range tables {
		if tb.Name == SNATTable {
			table = tb
		}
	}
	if table == nil {
		return nil
	}
	rules, err := c.GetRules(table, &nftables.Chain{Name: "postrouting", Table: table})
	must(t, err)
	var out []string
	for _, r := range rules {
		var d []string
		for i, e := range r.Exprs {
			switch e := e.(type) {
			case *expr.Cmp:
				if i >= 2 && len(e.Data) == 4 {
					if b, ok := r.Exprs[i-1].(*expr.Bitwise); ok {
						d = append(d, fmt.Sprintf("%v %s mask %s", e.Op, net.IP(e.Data), net.IP(b.Mask)))
						continue
					}
				}
				d = append(d, fmt.Sprintf("%v %q", e.Op, strings.TrimRight(string(e.Data), "\x00")))
			case *expr.Masq:
				d = append(d, "masq")
			}
		}
		out = append(out, strings.Join(d, " "))
	}
	return out
}

// The guards of a busy node go in one transaction: 250 ports (a dozen
// netlink messages each, all acknowledged before one is read) overflowed
// the default socket buffer at 15 ports.
func TestGuardsOfManyPorts(t *testing.T) {
	inNewNS(t, func() {
		var guards []Guard
		for i := range 250 {
			guards = append(guards, Guard{Port: fmt.Sprintf("kv%011x", i), MAC: net.HardwareAddr{2, 0, 0, 0, byte(i >> 8), byte(i)},
				IPs: []net.IP{net.IPv4(10, 244, byte(i>>8), byte(i)), net.ParseIP(fmt.Sprintf("fd00::%x", i+1))}})
		}
		must(t, reconcileGuards(guards))
		chains, err := GuardRules()
		must(t, err)
		if len(chains) != len(guards)+1 {
			t.Fatalf("%d guard chains, want %d and prerouting", len(chains), len(guards))
		}
		must(t, reconcileGuards(guards[:10]))
		if chains, _ := GuardRules(); len(chains) != 11 {
			t.Errorf("after 240 ports went: %d chains, want 11", len(chains))
		}
	})
}

// bridgeNetfilter is a bridge's "nf_call_iptables nf_call_ip6tables", as
// iproute2 reads them.
func bridgeNetfilter(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("ip", "-d", "-j", "link", "show", name).Output()
	must(t, err)
	var links []struct {
		LinkInfo struct {
			InfoData map[string]any `json:"info_data"`
		} `json:"linkinfo"`
	}
	must(t, json.Unmarshal(out, &links))
	if len(links) != 1 {
		t.Fatalf("ip link show %s: %s", name, out)
	}
	d := links[0].LinkInfo.InfoData
	return fmt.Sprintf("%v %v", d["nf_call_iptables"], d["nf_call_ip6tables"])
}

func must2[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// The bridge of a network the node routes has the gateway MAC, the same
// on every node, so that a pod whose ARP for its gateway another node
// answered still sends to its own node; the node knows the remote
// endpoints' addresses as permanent neighbours (it never ARPs across the
// overlay, whose answers would go to the pods' own nodes), exactly.
func TestRoutedNetworkGatewayMACAndNeighbours(t *testing.T) {
	inNewNS(t, func() {
		fabric(t, "192.168.100.1/24")
		port(t, "kv00000000001", "pod1")
		remote := func(m, ip string) Remote {
			return Remote{MAC: mac(m), NodeIP: net.ParseIP("192.168.100.2"), IPs: []net.IP{net.ParseIP(ip)}}
		}
		state := func(remotes ...Remote) State {
			return State{FabricIP: net.ParseIP("192.168.100.1"), FabricLink: "fabric0", VxlanPort: 4789, MTU: 1450,
				Networks: []Network{{Name: "pods", VNI: 1, Ports: []string{"kv00000000001"}, Gateways: []string{"10.244.0.1/16"}, Remotes: remotes}},
				Guards:   []Guard{{Port: "kv00000000001", MAC: mac("02:00:00:00:00:01"), IPs: []net.IP{net.ParseIP("10.244.0.2")}}}}
		}
		neighbours := func() []string {
			ns, err := netlink.NeighList(must2(netlink.LinkByName("kbr1")).Attrs().Index, netlink.FAMILY_V4)
			must(t, err)
			var out []string
			for _, n := range ns {
				if n.State&netlink.NUD_PERMANENT != 0 {
					out = append(out, n.IP.String()+" "+n.HardwareAddr.String())
				}
			}
			sort.Strings(out)
			return out
		}
		must(t, Reconcile(state(remote("02:00:00:00:00:0a", "10.244.0.9"), remote("02:00:00:00:00:0b", "10.244.0.10"))))
		if got := must2(netlink.LinkByName("kbr1")).Attrs().HardwareAddr; !slices.Equal(got, GatewayMAC(1)) {
			t.Errorf("kbr1 MAC = %s, want the gateway MAC %s", got, GatewayMAC(1))
		}
		if got, want := neighbours(), []string{"10.244.0.10 02:00:00:00:00:0b", "10.244.0.9 02:00:00:00:00:0a"}; !slices.Equal(got, want) {
			t.Errorf("neighbours = %v, want %v", got, want)
		}
		t.Log("a remote endpoint leaves, another's address moves to a new MAC: the neighbours follow")
		must(t, Reconcile(state(remote("02:00:00:00:00:0c", "10.244.0.9"))))
		if got, want := neighbours(), []string{"10.244.0.9 02:00:00:00:00:0c"}; !slices.Equal(got, want) {
			t.Errorf("neighbours = %v, want %v", got, want)
		}
	})
}
