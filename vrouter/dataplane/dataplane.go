// Package dataplane programs a node's Linux dataplane with netlink: per
// VirtualNetwork an isolated L2 domain, a bridge plus a VXLAN device whose
// VNI is the network's id, with learning off and static forwarding entries
// for every remote endpoint, flooding only to the nodes that host the
// network. Reconcile makes the kernel match a desired state and removes
// what Kontrail made that no longer has an owner, so it repairs drift and
// cleans up after an agent restart alike.
package dataplane

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
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
}

// Remote is a pod interface on another node.
type Remote struct {
	MAC    net.HardwareAddr
	NodeIP net.IP
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
		want[BridgeName(n.VNI)], want[VxlanName(n.VNI)] = true, true
		for _, p := range n.Ports {
			want[p] = true
		}
		if err := reconcileNetwork(s, fabric, n); err != nil {
			errs = append(errs, fmt.Errorf("network %s (VNI %d): %w", n.Name, n.VNI, err))
		}
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
	vx, err := ensureVxlan(VxlanName(n.VNI), n.VNI, s, fabric, br)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range n.Ports {
		if err := attach(p, br); err != nil {
			errs = append(errs, err)
		}
	}
	if err := ensureFDB(vx, n.Remotes); err != nil {
		errs = append(errs, err)
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
		if !slices.ContainsFunc(have, func(a netlink.Addr) bool { return a.IPNet.String() == addr.IPNet.String() }) {
			if err := netlink.AddrAdd(l, addr); err != nil && !errors.Is(err, unix.EEXIST) {
				return fmt.Errorf("failed to add %s to %s: %w", c, l.Attrs().Name, err)
			}
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
func attach(name string, br netlink.Link) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("port %s: %w", name, err)
	}
	if l.Attrs().MasterIndex != br.Attrs().Index {
		if err := netlink.LinkSetMaster(l, br); err != nil {
			return fmt.Errorf("failed to put %s on %s: %w", name, br.Attrs().Name, err)
		}
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
