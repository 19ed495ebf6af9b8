package dataplane

// Routing between networks. A network is an L2 domain (bridge + VXLAN);
// when its routing instance imports the routes of another network's (a
// VirtualNetworkRouter, or a shared route target), its pods reach that
// network's pods through the network's default gateway, as in Contrail
// (the user routes the other network's subnet via the gateway; one hop,
// TTL - 1).
//
// Each node has one router: a network namespace of its own (this kernel
// has no VRF devices), with a leg, a veth, into the bridge of every routed
// network. A leg carries its network's gateway address and a MAC derived
// from the VNI, the same on every node, so a pod always uses its own
// node's router (a distributed gateway). Per network the router has a
// routing table reached by a rule on the leg (iif), holding the network's
// subnets and the subnets of the networks it imports: routes leak exactly
// as the route targets say, and two networks with the same CIDR stay apart.
// The router knows every endpoint's MAC (permanent neighbours), so it never
// ARPs across nodes: a routed packet leaves on the destination network's
// bridge addressed to the pod's MAC and the overlay carries it.
//
// The namespace is not bind-mounted anywhere: the agent holds it open, and
// it goes with the agent (its legs with it); the next agent rebuilds it.

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// LegPrefix names the router's legs: kr<vni>, on the node (on the bridge)
// and in the router.
const LegPrefix = "kr"

// Routing tables and rule priority in the router's namespace.
const (
	tableBase    = 1_000_000 // table of a network = tableBase + VNI
	rulePriority = 1000
)

// Router is the node's router between networks.
type Router struct {
	// NS is the router's network namespace (NewRouterNS).
	NS ns.NetNS
	// Networks are the routed networks present on the node: each must
	// also be in State.Networks (its bridge).
	Networks []RoutedNetwork
}

// RoutedNetwork is a network with a leg on the router.
type RoutedNetwork struct {
	Name string
	VNI  uint32
	// Gateways are the network's default gateways, CIDR form
	// (172.16.10.1/24): the leg's addresses; their prefixes are the
	// network's subnets.
	Gateways []string
	// Imports are the VNIs of the networks whose subnets this network's
	// pods reach (they must be routed networks too).
	Imports []uint32
	// Neighbors are the network's endpoints on every node.
	Neighbors []Neighbor
}

// Neighbor is one address of an endpoint.
type Neighbor struct {
	IP  net.IP
	MAC net.HardwareAddr
}

// LegName names a network's leg.
func LegName(vni uint32) string { return LegPrefix + strconv.FormatUint(uint64(vni), 10) }

// GatewayMAC is the MAC of a network's gateway on every node: locally
// administered, "kr" and the VNI.
func GatewayMAC(vni uint32) net.HardwareAddr {
	return net.HardwareAddr{0x02, 'k', 'r', byte(vni >> 16), byte(vni >> 8), byte(vni)}
}

// NewRouterNS makes the router's network namespace, forwarding and with
// reverse path filtering off (a routed packet's source is in another
// network), held only by the returned handle.
func NewRouterNS() (ns.NetNS, error) {
	type result struct {
		ns  ns.NetNS
		err error
	}
	done := make(chan result, 1)
	go func() {
		// The thread is left in the new namespace and never unlocked: the
		// runtime ends it with this goroutine.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			done <- result{err: fmt.Errorf("failed to make the router's network namespace: %w", err)}
			return
		}
		for _, s := range []string{"net/ipv4/ip_forward", "net/ipv4/conf/all/rp_filter", "net/ipv4/conf/default/rp_filter"} {
			v := "0"
			if s == "net/ipv4/ip_forward" {
				v = "1"
			}
			if err := os.WriteFile("/proc/sys/"+s, []byte(v), 0o644); err != nil {
				done <- result{err: fmt.Errorf("router namespace: %s: %w", s, err)}
				return
			}
		}
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		if err != nil {
			done <- result{err: fmt.Errorf("router namespace: lo: %w", err)}
			return
		}
		n, err := ns.GetNS(fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid()))
		done <- result{n, err}
	}()
	r := <-done
	return r.ns, r.err
}

// reconcileRouter makes the router match r: legs on the node's bridges,
// their addresses, tables, rules and neighbours. Legs of networks r does
// not route are removed by Reconcile with Kontrail's other links.
func reconcileRouter(s State, r *Router) error {
	h, err := netlink.NewHandleAt(netns.NsHandle(r.NS.Fd()))
	if err != nil {
		return fmt.Errorf("router namespace: %w", err)
	}
	defer h.Close()
	var errs []error
	legs := map[uint32]netlink.Link{}
	for _, n := range r.Networks {
		leg, err := ensureLeg(s, h, r.NS, n)
		if err != nil {
			errs = append(errs, fmt.Errorf("router leg of network %s (VNI %d): %w", n.Name, n.VNI, err))
			continue
		}
		legs[n.VNI] = leg
	}
	prefixes := map[uint32][]*net.IPNet{}
	for _, n := range r.Networks {
		for _, g := range n.Gateways {
			if _, p, err := net.ParseCIDR(g); err == nil {
				prefixes[n.VNI] = append(prefixes[n.VNI], p)
			}
		}
	}
	wantRules := map[int]bool{}
	for _, n := range r.Networks {
		leg, ok := legs[n.VNI]
		if !ok {
			continue
		}
		wantRules[tableBase+int(n.VNI)] = true
		if err := ensureTable(h, n, leg, legs, prefixes); err != nil {
			errs = append(errs, fmt.Errorf("routing table of network %s (VNI %d): %w", n.Name, n.VNI, err))
		}
		if err := ensureNeighbors(h, leg, n.Neighbors); err != nil {
			errs = append(errs, fmt.Errorf("router neighbours of network %s (VNI %d): %w", n.Name, n.VNI, err))
		}
	}
	if err := ensureRules(h, r.Networks, wantRules); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ensureLeg makes the veth kr<vni> between the network's bridge and the
// router, the router's end with the gateway MAC and addresses.
func ensureLeg(s State, h *netlink.Handle, router ns.NetNS, n RoutedNetwork) (netlink.Link, error) {
	name := LegName(n.VNI)
	host, err := netlink.LinkByName(name)
	if err == nil && host.Type() != "veth" {
		if err := netlink.LinkDel(host); err != nil {
			return nil, err
		}
		err = netlink.LinkNotFoundError{}
	}
	leg, legErr := h.LinkByName(name)
	if err == nil && legErr != nil {
		// The router's end is gone (a new router namespace): start again.
		if err := netlink.LinkDel(host); err != nil && !errors.Is(err, unix.ENODEV) {
			return nil, err
		}
		err = netlink.LinkNotFoundError{}
	}
	if err != nil {
		attrs := netlink.NewLinkAttrs()
		attrs.Name, attrs.MTU = name, s.MTU
		veth := &netlink.Veth{LinkAttrs: attrs, PeerName: name, PeerHardwareAddr: GatewayMAC(n.VNI),
			PeerNamespace: netlink.NsFd(router.Fd())}
		if err := netlink.LinkAdd(veth); err != nil {
			return nil, fmt.Errorf("failed to add %s: %w", name, err)
		}
		if host, err = netlink.LinkByName(name); err != nil {
			return nil, err
		}
		if leg, err = h.LinkByName(name); err != nil {
			return nil, err
		}
	}
	br, err := netlink.LinkByName(BridgeName(n.VNI))
	if err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	if err := attach(name, br, false); err != nil {
		return nil, err
	}
	// The gateway's MAC is on this node's leg, whatever the overlay says.
	gw := &netlink.Neigh{LinkIndex: host.Attrs().Index, Family: unix.AF_BRIDGE, Flags: netlink.NTF_MASTER,
		State: netlink.NUD_NOARP, HardwareAddr: GatewayMAC(n.VNI)}
	if err := netlink.NeighSet(gw); err != nil {
		return nil, fmt.Errorf("failed to pin the gateway MAC on %s: %w", br.Attrs().Name, err)
	}
	if !slices.Equal(leg.Attrs().HardwareAddr, GatewayMAC(n.VNI)) {
		if err := h.LinkSetHardwareAddr(leg, GatewayMAC(n.VNI)); err != nil {
			return nil, err
		}
	}
	if s.MTU > 0 && leg.Attrs().MTU != s.MTU {
		if err := h.LinkSetMTU(leg, s.MTU); err != nil {
			return nil, err
		}
	}
	if err := ensureLegAddrs(h, leg, n.Gateways); err != nil {
		return nil, err
	}
	if leg.Attrs().Flags&net.FlagUp == 0 {
		if err := h.LinkSetUp(leg); err != nil {
			return nil, err
		}
	}
	return leg, nil
}

// ensureLegAddrs puts exactly the gateways on the leg, without their
// prefix routes: those go in the network's table, not the main one.
func ensureLegAddrs(h *netlink.Handle, leg netlink.Link, gateways []string) error {
	have, err := h.AddrList(leg, netlink.FAMILY_V4)
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, g := range gateways {
		a, err := netlink.ParseAddr(g)
		if err != nil || a.IP.To4() == nil {
			continue // IPv4 only
		}
		want[a.IPNet.String()] = true
		if !slices.ContainsFunc(have, func(h netlink.Addr) bool { return h.IPNet.String() == a.IPNet.String() }) {
			a.Flags = unix.IFA_F_NOPREFIXROUTE
			if err := h.AddrAdd(leg, a); err != nil && !errors.Is(err, unix.EEXIST) {
				return fmt.Errorf("failed to add %s: %w", g, err)
			}
		}
	}
	for _, a := range have {
		if !want[a.IPNet.String()] {
			if err := h.AddrDel(leg, &a); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
				return err
			}
		}
	}
	return nil
}

// ensureTable makes the network's table: its subnets on its leg, each
// imported network's subnets on that network's leg. An imported subnet
// equal to one of the network's own is left out: the own one wins.
func ensureTable(h *netlink.Handle, n RoutedNetwork, leg netlink.Link, legs map[uint32]netlink.Link, prefixes map[uint32][]*net.IPNet) error {
	table := tableBase + int(n.VNI)
	want := map[string]netlink.Route{}
	add := func(p *net.IPNet, via netlink.Link) {
		if _, dup := want[p.String()]; !dup {
			want[p.String()] = netlink.Route{Dst: p, LinkIndex: via.Attrs().Index, Scope: netlink.SCOPE_LINK, Table: table}
		}
	}
	for _, p := range prefixes[n.VNI] {
		add(p, leg)
	}
	var errs []error
	for _, vni := range n.Imports {
		other, ok := legs[vni]
		if !ok {
			errs = append(errs, fmt.Errorf("imported network VNI %d has no leg on the router", vni))
			continue
		}
		for _, p := range prefixes[vni] {
			add(p, other)
		}
	}
	have, err := dump(func() ([]netlink.Route, error) {
		return h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: table}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return err
	}
	for _, r := range have {
		if w, ok := want[r.Dst.String()]; ok && w.LinkIndex == r.LinkIndex {
			delete(want, r.Dst.String())
			continue
		}
		if err := h.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, err)
		}
	}
	for _, r := range want {
		if err := h.RouteReplace(&r); err != nil {
			errs = append(errs, fmt.Errorf("failed to route %s: %w", r.Dst, err))
		}
	}
	return errors.Join(errs...)
}

// ensureNeighbors makes a link's permanent IPv4 neighbours exactly
// neighbors (a router leg's: the network's endpoints; a routed network's
// bridge: the remote ones).
func ensureNeighbors(h *netlink.Handle, leg netlink.Link, neighbors []Neighbor) error {
	want := map[string]net.HardwareAddr{}
	for _, n := range neighbors {
		if n.IP.To4() != nil {
			want[n.IP.String()] = n.MAC
		}
	}
	have, err := dump(func() ([]netlink.Neigh, error) { return h.NeighList(leg.Attrs().Index, netlink.FAMILY_V4) })
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range have {
		if n.State&netlink.NUD_PERMANENT == 0 {
			continue
		}
		if mac, ok := want[n.IP.String()]; ok && slices.Equal(mac, n.HardwareAddr) {
			delete(want, n.IP.String())
			continue
		}
		if err := h.NeighDel(&n); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, err)
		}
	}
	for ip, mac := range want {
		n := &netlink.Neigh{LinkIndex: leg.Attrs().Index, Family: netlink.FAMILY_V4, State: netlink.NUD_PERMANENT,
			IP: net.ParseIP(ip), HardwareAddr: mac}
		if err := h.NeighSet(n); err != nil {
			errs = append(errs, fmt.Errorf("failed to set neighbour %s %s: %w", ip, mac, err))
		}
	}
	return errors.Join(errs...)
}

// ensureRules makes one rule per routed network, "iif kr<vni> lookup
// <its table>", and removes the router's other rules into its tables.
func ensureRules(h *netlink.Handle, networks []RoutedNetwork, want map[int]bool) error {
	have, err := dump(func() ([]netlink.Rule, error) { return h.RuleList(netlink.FAMILY_V4) })
	if err != nil {
		return fmt.Errorf("router rules: %w", err)
	}
	var errs []error
	present := map[int]bool{}
	for _, r := range have {
		if r.Table < tableBase {
			continue
		}
		vni := uint32(r.Table - tableBase)
		if want[r.Table] && r.IifName == LegName(vni) && r.Priority == rulePriority {
			present[r.Table] = true
			continue
		}
		if err := h.RuleDel(&r); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("failed to remove rule to table %d: %w", r.Table, err))
		}
	}
	for _, n := range networks {
		table := tableBase + int(n.VNI)
		if !want[table] || present[table] {
			continue
		}
		rule := netlink.NewRule()
		rule.IifName, rule.Table, rule.Priority, rule.Family = LegName(n.VNI), table, rulePriority, netlink.FAMILY_V4
		if err := h.RuleAdd(rule); err != nil && !errors.Is(err, unix.EEXIST) {
			errs = append(errs, fmt.Errorf("failed to add rule iif %s table %d: %w", rule.IifName, table, err))
		}
	}
	return errors.Join(errs...)
}
