package dataplane

// Fabric forwarding (a VirtualNetwork's fabricForwarding, CN2's
// ip_fabric_forwarding): the network is routed on the fabric, without the
// overlay. Its bridge has no VXLAN device; it carries the network's
// gateways (the node routes the network, as the pod network) and answers
// the pods' ARP for the network's addresses on other nodes itself (proxy
// ARP): a pod's packet to a pod of another node goes to its node, which
// routes it by a host route (/32, /128) to that pod's node's fabric
// address on the fabric link; that node delivers it on its bridge. Pods
// of the same node stay bridged. The network's pods leave the cluster
// with their own addresses: no fabric SNAT (fabricForwarding takes
// precedence over fabricSNAT, as in CN2), and the fabric reaches the
// network by a route to its subnets via any node.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// RouteProtocol marks the routes Kontrail adds to the node's main table
// (the host routes of fabric forwarding): Reconcile removes a route of
// this protocol it does not want, and no other.
const RouteProtocol netlink.RouteProtocol = 0x4b // 75: 'K', unused by iproute2's rt_protos

// hostRoute is one route of fabric forwarding: dst, a remote pod's
// address, via its node's fabric address.
type hostRoute struct {
	dst *net.IPNet
	via net.IP
}

// fabricRoutes are the host routes the forwarding networks want: one per
// address of each remote endpoint, via its node, of the node's family
// (the fabric carries one family: an address of the other family has no
// route across nodes).
func fabricRoutes(networks []Network) map[string]hostRoute {
	want := map[string]hostRoute{}
	for _, n := range networks {
		if !n.FabricForwarding {
			continue
		}
		for _, r := range n.Remotes {
			for _, ip := range r.IPs {
				if (ip.To4() != nil) != (r.NodeIP.To4() != nil) {
					continue
				}
				bits := 128
				if ip.To4() != nil {
					ip, bits = ip.To4(), 32
				}
				dst := &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}
				want[dst.String()] = hostRoute{dst: dst, via: r.NodeIP}
			}
		}
	}
	return want
}

// reconcileFabricRoutes makes the main table's routes of RouteProtocol
// exactly the forwarding networks' host routes, on the fabric link.
func reconcileFabricRoutes(networks []Network, fabric netlink.Link) error {
	want := fabricRoutes(networks)
	have, err := dump(func() ([]netlink.Route, error) {
		return netlink.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_MAIN, Protocol: RouteProtocol},
			netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL)
	})
	if err != nil {
		return fmt.Errorf("failed to list the fabric routes: %w", err)
	}
	var errs []error
	for _, r := range have {
		if r.Dst != nil {
			if w, ok := want[r.Dst.String()]; ok && w.via.Equal(r.Gw) && r.LinkIndex == fabric.Attrs().Index {
				delete(want, r.Dst.String())
				continue
			}
		}
		if err := netlink.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("failed to remove the fabric route %s: %w", r.Dst, err))
		}
	}
	for _, w := range want {
		r := &netlink.Route{Dst: w.dst, Gw: w.via, LinkIndex: fabric.Attrs().Index, Protocol: RouteProtocol, Table: unix.RT_TABLE_MAIN}
		if err := netlink.RouteReplace(r); err != nil {
			errs = append(errs, fmt.Errorf("failed to route %s via %s: %w", w.dst, w.via, err))
		}
	}
	return errors.Join(errs...)
}

// proxyARP says whether proxy ARP is on on a bridge.
func proxyARP(br netlink.Link) bool {
	v, err := os.ReadFile("/proc/sys/net/ipv4/conf/" + br.Attrs().Name + "/proxy_arp")
	return err == nil && strings.TrimSpace(string(v)) == "1"
}

// setProxyARP turns proxy ARP on a bridge on (a forwarding network's: the
// node answers for the addresses it routes elsewhere, the other nodes'
// pods) at once (proxy_delay 0: a pod's broadcast request is answered
// without the kernel's random delay), or off.
func setProxyARP(br netlink.Link, on bool) error {
	name := br.Attrs().Name
	v := "0"
	if on {
		v = "1"
	}
	var errs []error
	for _, s := range []struct{ path, value string }{
		{"/proc/sys/net/ipv4/neigh/" + name + "/proxy_delay", "0"},
		{"/proc/sys/net/ipv4/conf/" + name + "/proxy_arp", v},
	} {
		if have, err := os.ReadFile(s.path); err == nil && strings.TrimSpace(string(have)) == s.value {
			continue
		}
		if err := os.WriteFile(s.path, []byte(s.value), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("failed to set %s=%s: %w", s.path, s.value, err))
		}
	}
	return errors.Join(errs...)
}

// announce sends a gratuitous ARP on the bridge for each remote IPv4
// address, saying it is at mac(remote): when a network's mode changes the
// pods' neighbour entries for the other nodes' pods are wrong (overlay to
// forwarding: the pods' own MACs, which no VXLAN device carries any more;
// forwarding to overlay: the gateway MAC, which no bridge answers any
// more). Linux updates an existing entry from any ARP packet of the
// address, so the pods follow at once rather than when their entries go
// stale (up to a minute).
func announce(br netlink.Link, remotes []Remote, mac func(Remote) net.HardwareAddr) error {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(unix.ETH_P_ARP)))
	if err != nil {
		return fmt.Errorf("gratuitous ARP on %s: %w", br.Attrs().Name, err)
	}
	defer unix.Close(fd)
	to := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ARP), Ifindex: br.Attrs().Index, Halen: 6,
		Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	var errs []error
	for _, r := range remotes {
		hw := mac(r)
		for _, ip := range r.IPs {
			ip4 := ip.To4()
			if ip4 == nil {
				continue
			}
			// Ethernet (from the bridge, to all) and an ARP request whose
			// sender and target are the address.
			f := make([]byte, 0, 42)
			f = append(f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
			f = append(f, br.Attrs().HardwareAddr...)
			f = append(f, 0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1)
			f = append(f, hw...)
			f = append(f, ip4...)
			f = append(f, 0, 0, 0, 0, 0, 0)
			f = append(f, ip4...)
			if err := unix.Sendto(fd, f, 0, to); err != nil {
				errs = append(errs, fmt.Errorf("gratuitous ARP for %s on %s: %w", ip4, br.Attrs().Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// htons is v in network byte order, as the socket calls take it.
func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}
