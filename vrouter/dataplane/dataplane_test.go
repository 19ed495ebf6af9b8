package dataplane

import (
	"fmt"
	"net"
	"os"
	"slices"
	"sort"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
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
				{Name: "default/vn2", VNI: 6, Ports: []string{"kv00000000002"}, Gateways: []string{"10.244.0.1/16"}},
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
	})
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
