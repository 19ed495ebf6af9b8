// Package dataplane programs a node's Linux dataplane with netlink: per
// VirtualNetwork an isolated L2 domain, a bridge plus a VXLAN device whose
// VNI is the network's id, with learning off and static forwarding entries
// for every remote endpoint, flooding only to the nodes that host the
// network; a network with fabric forwarding has no VXLAN device and is
// routed on the fabric instead (fabric.go). Reconcile makes the kernel
// match a desired state and removes what Kontrail made that no longer has
// an owner, so it repairs drift and cleans up after an agent restart alike.
package dataplane

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/containernetworking/plugins/pkg/ip"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Prefixes of the links Kontrail owns on a node.
const (
	BridgePrefix = "kbr" // kbr<vni>
	VxlanPrefix  = "kvx" // kvx<vni>
	PortPrefix   = "kv"  // kv<11 hex>: a pod interface's host end (see cni/plugin)
)

// State is what the node's dataplane must look like.
type State struct {
	// FabricIP is the node's overlay address; FabricLink carries it.
	FabricIP   net.IP
	FabricLink string
	VxlanPort  int
	// MTU of the bridges and VXLAN devices (the pods' MTU).
	MTU      int
	Networks []Network
	// Keep are host ends being plugged: made by the plugin, not yet
	// reported. Reconcile leaves them alone.
	Keep []string
	// StillWanted, when set, is asked about each of Kontrail's links
	// Reconcile is about to remove, at that moment: a host end the plugin
	// made (or reported) after the state was computed is kept.
	StillWanted func(name string) bool
	// Router routes between networks (router.go); nil: no routing.
	Router *Router
	// Guards are what each port may send (guard.go): programmed before
	// any port is attached, and a port without one is not attached.
	Guards []Guard
	// HostPorts are the node's ports forwarded to pods (hostport.go):
	// those of attached ports are programmed, after the bridges.
	HostPorts []HostPort
}

// Network is one VirtualNetwork present on the node.
type Network struct {
	// Name is the VirtualNetwork's namespace/name (for messages).
	Name string
	VNI  uint32
	// Gateways are put on the bridge (CIDR form), so that the node routes
	// to the network's pods: the default pod network's only.
	Gateways []string
	// Ports are the host ends of the pods' interfaces on this network.
	Ports []string
	// Remotes are the network's endpoints on other nodes.
	Remotes []Remote
	// FabricSNAT: the network's traffic leaving the cluster through the
	// fabric takes the node's address (its VirtualNetwork's fabricSNAT);
	// the node does it for a network it routes (with Gateways), unless
	// the network has FabricForwarding.
	FabricSNAT bool
	// FabricForwarding: the network is routed on the fabric, without the
	// overlay (its VirtualNetwork's fabricForwarding; fabric.go): no VXLAN
	// device, the node routes it (it needs Gateways), a host route per
	// remote address via its node, proxy ARP on the bridge, no SNAT.
	FabricForwarding bool
}

// Remote is a pod interface on another node.
type Remote struct {
	MAC    net.HardwareAddr
	NodeIP net.IP
	// IPs are the interface's addresses: a network the node routes holds
	// a neighbour for each (see ensureGatewayMAC).
	IPs []net.IP
}

// BridgeName and VxlanName name a network's devices.
func BridgeName(vni uint32) string { return BridgePrefix + strconv.FormatUint(uint64(vni), 10) }
func VxlanName(vni uint32) string  { return VxlanPrefix + strconv.FormatUint(uint64(vni), 10) }

// zeroMAC is the FDB address of broadcast, unknown unicast and multicast.
var zeroMAC = net.HardwareAddr{0, 0, 0, 0, 0, 0}

// Reconcile makes the current network namespace's links, addresses and
// forwarding entries match s, and removes Kontrail's links that s does not
// name. It goes on past a failing network and returns every error joined.
func Reconcile(s State) error {
	var errs []error
	fabric, err := netlink.LinkByName(s.FabricLink)
	if err != nil {
		return fmt.Errorf("fabric interface %q: %w", s.FabricLink, err)
	}
	// Guards first, and no port attached without them (fail closed: the
	// previous table stays in force when this one cannot be programmed).
	if err := reconcileGuards(s.Guards); err != nil {
		return fmt.Errorf("anti-spoofing guards: %w", err)
	}
	guarded := map[string]bool{}
	for _, g := range s.Guards {
		guarded[g.Port] = true
	}
	s.Networks = append([]Network(nil), s.Networks...) // the caller's stays as it was
	if err := enableForwarding(s.Networks); err != nil {
		errs = append(errs, err)
	}
	if err := reconcileSNAT(s.Networks, s.FabricLink); err != nil {
		errs = append(errs, err)
	}
	for i := range s.Networks {
		var ports []string
		for _, p := range s.Networks[i].Ports {
			if guarded[p] {
				ports = append(ports, p)
			} else {
				errs = append(errs, fmt.Errorf("port %s of network %s has no guard: not attached", p, s.Networks[i].Name))
			}
		}
		s.Networks[i].Ports = ports
	}
	want := map[string]bool{}
	for _, k := range s.Keep {
		want[k] = true
	}
	for _, n := range s.Networks {
		want[BridgeName(n.VNI)] = true
		if !n.FabricForwarding {
			want[VxlanName(n.VNI)] = true // a forwarding network's goes, its forwarding entries with it
		}
		for _, p := range n.Ports {
			want[p] = true
		}
		if err := reconcileNetwork(s, fabric, n); err != nil {
			errs = append(errs, fmt.Errorf("network %s (VNI %d): %w", n.Name, n.VNI, err))
		}
	}
	// Always: with no forwarding network, the routes of one that was go.
	if err := reconcileFabricRoutes(s.Networks, fabric); err != nil {
		errs = append(errs, err)
	}
	if err := reconcileHostPorts(s.HostPorts, s.Networks); err != nil {
		errs = append(errs, err)
	}
	if s.Router != nil {
		for _, n := range s.Router.Networks {
			want[LegName(n.VNI)] = true
		}
		if err := reconcileRouter(s, s.Router); err != nil {
			errs = append(errs, err)
		}
	}
	links, err := dump(netlink.LinkList)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, l := range links {
		name := l.Attrs().Name
		owned := strings.HasPrefix(name, BridgePrefix) || strings.HasPrefix(name, VxlanPrefix) ||
			((strings.HasPrefix(name, PortPrefix) || strings.HasPrefix(name, LegPrefix)) && l.Type() == "veth")
		if owned && !want[name] && (s.StillWanted == nil || !s.StillWanted(name)) {
			if err := netlink.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
				errs = append(errs, fmt.Errorf("failed to remove %s: %w", name, err))
			}
		}
	}
	return errors.Join(errs...)
}

func reconcileNetwork(s State, fabric netlink.Link, n Network) error {
	br, err := ensureBridge(BridgeName(n.VNI), s.MTU)
	if err != nil {
		return err
	}
	if err := ensureAddrs(br, n.Gateways); err != nil {
		return err
	}
	// A network the node routes (it holds its gateway: the pod network)
	// is the one kube-proxy serves: a pod's packet to a Service is routed
	// and translated by the node, but the backend's reply to a pod of the
	// same network is bridged, and only a bridge that hands its IP frames
	// to the node's netfilter lets conntrack undo the translation (else
	// the client sees the backend's address and drops the reply).
	if err := setBridgeNetfilter(br, len(n.Gateways) > 0); err != nil {
		return err
	}
	if err := ensureFabricSource(br, n.Gateways, s.FabricIP); err != nil {
		return err
	}
	if routed := len(n.Gateways) > 0; routed {
		if err := ensureGatewayMAC(br, n.VNI); err != nil {
			return err
		}
		// A forwarding network's remote endpoints are behind the fabric
		// link (host routes), not on the bridge.
		remotes := n.Remotes
		if n.FabricForwarding {
			remotes = nil
		}
		if err := ensureRemoteNeighbours(br, remotes); err != nil {
			return err
		}
	} else if err := dropGatewayMAC(br, n.VNI); err != nil {
		return err
	}
	// Proxy ARP on a forwarding network's bridge (fabric.go), off on the
	// others (a network whose forwarding was turned off). The mode the
	// network had: a bridge with proxy ARP was forwarding, one with a
	// VXLAN device was not.
	wasForwarding := proxyARP(br)
	if err := setProxyARP(br, n.FabricForwarding); err != nil {
		return err
	}
	var vx netlink.Link
	var errs []error
	if n.FabricForwarding {
		// The VXLAN device goes now, before the announcement, which it
		// would carry to the other nodes' pods.
		if l, err := netlink.LinkByName(VxlanName(n.VNI)); err == nil {
			if err := netlink.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
				return fmt.Errorf("failed to remove %s: %w", VxlanName(n.VNI), err)
			}
			// Overlay to forwarding: the other nodes' pods are at the gateway MAC.
			if err := announce(br, n.Remotes, func(Remote) net.HardwareAddr { return GatewayMAC(n.VNI) }); err != nil {
				errs = append(errs, err)
			}
		}
	} else if vx, err = ensureVxlan(VxlanName(n.VNI), n.VNI, s, fabric, br); err != nil {
		return err
	}
	// On a network the node routes, a pod reaching a Service that it backs
	// itself (hairpin) gets its own packet back through its port: br
	// netfilter bridges the translated frame to where it goes, the port it
	// came from.
	routed := len(n.Gateways) > 0
	for _, p := range n.Ports {
		if err := attach(p, br, routed); err != nil {
			errs = append(errs, err)
		}
	}
	if vx != nil {
		if err := ensureFDB(vx, n.Remotes); err != nil {
			errs = append(errs, err)
		}
		if wasForwarding {
			// Forwarding to overlay: the other nodes' pods are at their own MACs.
			if err := announce(br, n.Remotes, func(r Remote) net.HardwareAddr { return r.MAC }); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func ensureBridge(name string, mtu int) (netlink.Link, error) {
	l, err := netlink.LinkByName(name)
	if err == nil && l.Type() != "bridge" {
		if err := netlink.LinkDel(l); err != nil {
			return nil, err
		}
		err = netlink.LinkNotFoundError{}
	}
	if err != nil {
		attrs := netlink.NewLinkAttrs()
		attrs.Name, attrs.MTU = name, mtu
		// No STP, no multicast snooping: a bridge per network, flooding
		// only over the VXLAN device's static entries.
		br := &netlink.Bridge{LinkAttrs: attrs, MulticastSnooping: ptr(false)}
		if err := netlink.LinkAdd(br); err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("failed to add bridge %s: %w", name, err)
		}
		if l, err = netlink.LinkByName(name); err != nil {
			return nil, err
		}
	}
	if mtu > 0 && l.Attrs().MTU != mtu {
		if err := netlink.LinkSetMTU(l, mtu); err != nil {
			return nil, fmt.Errorf("failed to set the MTU of %s: %w", name, err)
		}
	}
	if l.Attrs().Flags&net.FlagUp == 0 {
		if err := netlink.LinkSetUp(l); err != nil {
			return nil, fmt.Errorf("failed to bring %s up: %w", name, err)
		}
	}
	return l, nil
}

// ensureAddrs makes the bridge's addresses the gateways (IPv6 link-local
// addresses, the kernel's, aside): a gateway a network no longer has (its
// forwarding turned off) goes. An IPv4 gateway has scope
// link: every node holds the same gateway address, so it must never be
// the source the node picks for a packet that may reach another node's
// pod (it would answer its own node's gateway). With no global address
// on the bridge, the kernel's choice (a masquerade's too: kube-proxy
// masquerades host and external clients of a Service) falls to the
// node's fabric address; the connected route says so (ensureFabricSource).
func ensureAddrs(l netlink.Link, cidrs []string) error {
	have, err := dump(func() ([]netlink.Addr, error) { return netlink.AddrList(l, netlink.FAMILY_ALL) })
	if err != nil {
		return err
	}
	for _, c := range cidrs {
		addr, err := netlink.ParseAddr(c)
		if err != nil {
			return fmt.Errorf("gateway %q: %w", c, err)
		}
		if addr.IP.To4() != nil {
			addr.Scope = unix.RT_SCOPE_LINK
		}
		i := slices.IndexFunc(have, func(a netlink.Addr) bool { return a.IPNet.String() == addr.IPNet.String() })
		if i >= 0 && have[i].Scope == addr.Scope {
			continue
		}
		if i >= 0 { // a gateway of another scope: made again
			if err := netlink.AddrDel(l, &have[i]); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
				return fmt.Errorf("failed to replace %s on %s: %w", c, l.Attrs().Name, err)
			}
		}
		if err := netlink.AddrAdd(l, addr); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("failed to add %s to %s: %w", c, l.Attrs().Name, err)
		}
	}
	for _, a := range have {
		if a.IP.IsLinkLocalUnicast() && a.IP.To4() == nil {
			continue
		}
		if slices.ContainsFunc(cidrs, func(c string) bool {
			want, err := netlink.ParseAddr(c)
			return err == nil && want.IPNet.String() == a.IPNet.String()
		}) {
			continue
		}
		if err := netlink.AddrDel(l, &a); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			return fmt.Errorf("failed to remove %s from %s: %w", a.IPNet, l.Attrs().Name, err)
		}
	}
	return nil
}

func ensureVxlan(name string, vni uint32, s State, fabric, br netlink.Link) (netlink.Link, error) {
	l, err := netlink.LinkByName(name)
	if err == nil {
		vx, ok := l.(*netlink.Vxlan)
		if !ok || vx.VxlanId != int(vni) || !vx.SrcAddr.Equal(s.FabricIP) || vx.Port != s.VxlanPort || vx.Learning ||
			vx.VtepDevIndex != fabric.Attrs().Index {
			if err := netlink.LinkDel(l); err != nil {
				return nil, fmt.Errorf("failed to replace %s: %w", name, err)
			}
			err = netlink.LinkNotFoundError{}
		}
	}
	if err != nil {
		attrs := netlink.NewLinkAttrs()
		attrs.Name, attrs.MTU = name, s.MTU
		vx := &netlink.Vxlan{LinkAttrs: attrs, VxlanId: int(vni), VtepDevIndex: fabric.Attrs().Index, SrcAddr: s.FabricIP,
			Port: s.VxlanPort, Learning: false}
		if err := netlink.LinkAdd(vx); err != nil {
			return nil, fmt.Errorf("failed to add VXLAN %s: %w", name, err)
		}
		if l, err = netlink.LinkByName(name); err != nil {
			return nil, err
		}
	}
	if l.Attrs().MasterIndex != br.Attrs().Index {
		if err := netlink.LinkSetMaster(l, br); err != nil {
			return nil, fmt.Errorf("failed to put %s on %s: %w", name, br.Attrs().Name, err)
		}
	}
	// The bridge learns nothing from the overlay: remote MACs are static
	// entries (ensureFDB), and a gateway MAC, which every node's router
	// answers with, stays on the local leg.
	if err := netlink.LinkSetLearning(l, false); err != nil {
		return nil, fmt.Errorf("failed to turn learning off on %s: %w", name, err)
	}
	if l.Attrs().Flags&net.FlagUp == 0 {
		if err := netlink.LinkSetUp(l); err != nil {
			return nil, fmt.Errorf("failed to bring %s up: %w", name, err)
		}
	}
	return l, nil
}

// attach puts a pod interface's host end on its network's bridge.
func attach(name string, br netlink.Link, hairpin bool) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("port %s: %w", name, err)
	}
	if l.Attrs().MasterIndex != br.Attrs().Index {
		if err := netlink.LinkSetMaster(l, br); err != nil {
			return fmt.Errorf("failed to put %s on %s: %w", name, br.Attrs().Name, err)
		}
	}
	// Set each time (a link's bridge flags are not in its plain attributes).
	if err := netlink.LinkSetHairpin(l, hairpin); err != nil {
		return fmt.Errorf("failed to set hairpin=%v on %s: %w", hairpin, name, err)
	}
	if l.Attrs().Flags&net.FlagUp == 0 {
		if err := netlink.LinkSetUp(l); err != nil {
			return fmt.Errorf("failed to bring %s up: %w", name, err)
		}
	}
	return nil
}

// fdbKey identifies a forwarding entry: dst is the remote node for the
// VXLAN device's own entries, "" for the bridge's entries on its port.
type fdbKey struct{ mac, dst string }

// ensureFDB makes the VXLAN device's static entries exactly: each remote
// MAC to its node, and a flood entry (00:00:00:00:00:00) per node that
// hosts the network; and the bridge's: each remote MAC on the VXLAN port.
func ensureFDB(vx netlink.Link, remotes []Remote) error {
	want := map[fdbKey]bool{}
	for _, r := range remotes {
		want[fdbKey{r.MAC.String(), r.NodeIP.String()}] = true
		want[fdbKey{zeroMAC.String(), r.NodeIP.String()}] = true
		want[fdbKey{r.MAC.String(), ""}] = true
	}
	have, err := dump(func() ([]netlink.Neigh, error) { return netlink.NeighList(vx.Attrs().Index, unix.AF_BRIDGE) })
	if err != nil {
		return fmt.Errorf("failed to list the FDB of %s: %w", vx.Attrs().Name, err)
	}
	var errs []error
	seen := map[fdbKey]bool{}
	for _, n := range have {
		var k fdbKey
		switch {
		// Dumps name the bridge's entries by their master, not by NTF_MASTER.
		case n.MasterIndex != 0 && n.State == netlink.NUD_NOARP:
			k = fdbKey{n.HardwareAddr.String(), ""}
		case n.MasterIndex == 0 && n.IP != nil:
			k = fdbKey{n.HardwareAddr.String(), n.IP.String()}
		default: // the kernel's own entries for the device's MAC
			continue
		}
		if !want[k] {
			if err := netlink.NeighDel(&n); err != nil && !errors.Is(err, unix.ENOENT) {
				errs = append(errs, fmt.Errorf("failed to remove FDB entry %s dst %q: %w", k.mac, k.dst, err))
			}
			continue
		}
		seen[k] = true
	}
	for k := range want {
		if seen[k] {
			continue
		}
		mac, _ := net.ParseMAC(k.mac)
		if k.dst == "" {
			entry := &netlink.Neigh{LinkIndex: vx.Attrs().Index, Family: unix.AF_BRIDGE, Flags: netlink.NTF_MASTER,
				State: netlink.NUD_NOARP, HardwareAddr: mac}
			if err := netlink.NeighSet(entry); err != nil {
				errs = append(errs, fmt.Errorf("failed to add bridge FDB entry %s: %w", k.mac, err))
			}
			continue
		}
		entry := &netlink.Neigh{LinkIndex: vx.Attrs().Index, Family: unix.AF_BRIDGE, Flags: netlink.NTF_SELF,
			State: netlink.NUD_PERMANENT | netlink.NUD_NOARP, HardwareAddr: mac, IP: net.ParseIP(k.dst)}
		// Append: the flood address has one entry per remote node.
		if err := netlink.NeighAppend(entry); err != nil && !errors.Is(err, unix.EEXIST) {
			errs = append(errs, fmt.Errorf("failed to add FDB entry %s dst %s: %w", k.mac, k.dst, err))
		}
	}
	return errors.Join(errs...)
}

func ptr[T any](v T) *T { return &v }

// dump reads a netlink table again when the kernel interrupted the dump
// (the table changed while it was read: the plugin makes and deletes
// veths at any time, and netlink then returns partial results with
// ErrDumpInterrupted); a reconcile must not act on half a table.
func dump[T any](list func() (T, error)) (T, error) {
	var out T
	var err error
	for range 5 {
		if out, err = list(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			return out, err
		}
	}
	return out, err
}

// LinkList lists the links of the current network namespace, read again
// when the kernel interrupted the dump.
func LinkList() ([]netlink.Link, error) { return dump(netlink.LinkList) }

// setBridgeNetfilter turns the bridge's own nf_call_iptables and
// nf_call_ip6tables on or off (per bridge, whatever the node's
// net.bridge.bridge-nf-call-* sysctls say; netlink's Bridge has no field
// for them). Setting the value it has changes nothing.
func setBridgeNetfilter(br netlink.Link, on bool) error {
	v := []byte{0}
	if on {
		v[0] = 1
	}
	req := nl.NewNetlinkRequest(unix.RTM_NEWLINK, unix.NLM_F_ACK)
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = int32(br.Attrs().Index)
	req.AddData(msg)
	info := nl.NewRtAttr(unix.IFLA_LINKINFO, nil)
	info.AddRtAttr(nl.IFLA_INFO_KIND, nl.NonZeroTerminated("bridge"))
	data := info.AddRtAttr(nl.IFLA_INFO_DATA, nil)
	data.AddRtAttr(unix.IFLA_BR_NF_CALL_IPTABLES, v)
	data.AddRtAttr(unix.IFLA_BR_NF_CALL_IP6TABLES, v)
	req.AddData(info)
	if _, err := req.Execute(unix.NETLINK_ROUTE, 0); err != nil {
		return fmt.Errorf("failed to set nf_call_iptables=%d on %s: %w", v[0], br.Attrs().Name, err)
	}
	return nil
}

// ensureFabricSource makes the node speak to a routed network's pods from
// its fabric address, not from the gateway's: every node holds the same
// gateway address, so a pod on another node would answer the gateway of
// its own node (kubelet's probes stay local; a host-network client of a
// Service whose backend is on another node, or a node reaching another
// node's pod, would not get its answer). The connected route of each
// gateway's prefix is replaced with one whose preferred source is the
// fabric address; the pod answers through its own node, which routes to
// the fabric.
func ensureFabricSource(br netlink.Link, gateways []string, fabricIP net.IP) error {
	if fabricIP == nil || fabricIP.To4() == nil {
		return nil
	}
	for _, c := range gateways {
		addr, err := netlink.ParseAddr(c)
		if err != nil {
			return fmt.Errorf("gateway %q: %w", c, err)
		}
		if addr.IP.To4() == nil {
			continue
		}
		dst := &net.IPNet{IP: addr.IP.Mask(addr.Mask), Mask: addr.Mask}
		r := &netlink.Route{LinkIndex: br.Attrs().Index, Dst: dst, Scope: netlink.SCOPE_LINK, Src: fabricIP,
			Protocol: unix.RTPROT_KERNEL, Table: unix.RT_TABLE_MAIN}
		if err := netlink.RouteReplace(r); err != nil {
			return fmt.Errorf("failed to route %s from %s: %w", dst, fabricIP, err)
		}
	}
	return nil
}

// enableForwarding turns the node's IP forwarding on for each family a
// network the node routes has a gateway of: its pods' packets to Services
// (kube-proxy's translation) and out of the network pass the node, as a
// node's CNI turns it on (the reference bridge plugin's isGateway does).
// It is never turned off: other parts of a node count on it as well.
func enableForwarding(networks []Network) error {
	var v4, v6 bool
	for _, n := range networks {
		for _, c := range n.Gateways {
			if gw, _, err := net.ParseCIDR(c); err == nil {
				if gw.To4() != nil {
					v4 = true
				} else {
					v6 = true
				}
			}
		}
	}
	var errs []error
	if v4 {
		if err := ip.EnableIP4Forward(); err != nil {
			errs = append(errs, fmt.Errorf("failed to turn IPv4 forwarding on: %w", err))
		}
	}
	if v6 {
		if err := ip.EnableIP6Forward(); err != nil {
			errs = append(errs, fmt.Errorf("failed to turn IPv6 forwarding on: %w", err))
		}
	}
	return errors.Join(errs...)
}

// ensureGatewayMAC gives the bridge of a network the node routes the
// network's gateway MAC, the same on every node (GatewayMAC, as the router
// legs'): a pod's ARP for its gateway is flooded over the overlay too, and
// another node's bridge, which holds the same gateway address, answers it.
// With one MAC for the gateway everywhere, whichever answer the pod keeps,
// its frames to the gateway stay on its own node (the bridge's own MAC is
// delivered locally), so the pod's traffic leaves through its own node,
// which saw the connection's first packet (conntrack: Services, SNAT).
func ensureGatewayMAC(br netlink.Link, vni uint32) error {
	if mac := GatewayMAC(vni); !slices.Equal(br.Attrs().HardwareAddr, mac) {
		if err := netlink.LinkSetHardwareAddr(br, mac); err != nil {
			return fmt.Errorf("failed to set the gateway MAC of %s: %w", br.Attrs().Name, err)
		}
	}
	return nil
}

// dropGatewayMAC gives the bridge of a network the node does not route (any
// longer) a MAC of its own: with the gateway MAC it would take the frames
// a pod sends to its gateway, the router's leg on it (router.go), whose MAC
// is the same.
func dropGatewayMAC(br netlink.Link, vni uint32) error {
	if !slices.Equal(br.Attrs().HardwareAddr, GatewayMAC(vni)) {
		return nil
	}
	mac := make(net.HardwareAddr, 6)
	if _, err := rand.Read(mac); err != nil {
		return err
	}
	mac[0] = mac[0]&0xfe | 0x02 // unicast, locally administered
	if err := netlink.LinkSetHardwareAddr(br, mac); err != nil {
		return fmt.Errorf("failed to give %s a MAC of its own: %w", br.Attrs().Name, err)
	}
	return nil
}

// ensureRemoteNeighbours makes the bridge's permanent IPv4 neighbours
// exactly the remote endpoints' addresses: the node never ARPs across the
// overlay (the answer would go to the pod's own node, as every bridge of
// the network has the gateway MAC).
func ensureRemoteNeighbours(br netlink.Link, remotes []Remote) error {
	var neighbors []Neighbor
	for _, r := range remotes {
		for _, ip := range r.IPs {
			neighbors = append(neighbors, Neighbor{IP: ip, MAC: r.MAC})
		}
	}
	// The zero Handle works in the current network namespace.
	if err := ensureNeighbors(&netlink.Handle{}, br, neighbors); err != nil {
		return fmt.Errorf("neighbours of %s: %w", br.Attrs().Name, err)
	}
	return nil
}
