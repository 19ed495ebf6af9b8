package dataplane

// Host ports (Kubernetes hostPort, the CNI portMappings capability): the
// node forwards traffic for one of its ports to a pod's port, as the
// reference portmap plugin does with nftables, but from the agent's
// desired state: per family one table (ip and ip6 kontrail-hostport),
// made anew in one transaction with the others, or removed when no pod
// has a host port.
//
//	prerouting (nat, dstnat): traffic arriving at the node, for one of its
//	   addresses (fib daddr type local), not for loopback -> hostports
//	output (nat, dstnat): traffic of the node itself, to one of its
//	   addresses, loopback included -> hostports
//	hostports: [daddr hostIP] l4proto dport -> dnat to podIP:containerPort,
//	   the forwards with a host IP before those of every address
//	postrouting (nat, srcnat): masquerade what was sent from loopback to a
//	   pod (curl 127.0.0.1:hostPort from the node: the pod could not answer
//	   127.0.0.1), and a pod's own traffic that came back to it (hairpin)
//	input (ip, filter): drops what comes to 127.0.0.0/8 from elsewhere
//	   than lo and is no answer (the bridge routes 127/8, route_localnet,
//	   for the first case; no pod may reach the node's loopback services)
//
// route_localnet is on on the bridge of every network with an IPv4 host
// port, and off on the other networks' bridges.

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// HostPortTable is the nftables table (families ip and ip6) of the host
// ports.
const HostPortTable = "kontrail-hostport"

// ipsDstNAT is conntrack's status bit of a destination-translated
// connection (IPS_DST_NAT).
const ipsDstNAT = 1 << 5

// HostPort is one forward of a port of the node to a pod's address.
type HostPort struct {
	// Port is the pod's host end: its network's bridge carries the
	// forwarded traffic.
	Port string
	// Pod is the pod's namespace/name (for messages).
	Pod string
	// Protocol is unix.IPPROTO_TCP, IPPROTO_UDP or IPPROTO_SCTP.
	Protocol uint8
	// HostIP is the node's address the forward takes; none or an
	// unspecified one: every address of the node of PodIP's family.
	HostIP   netip.Addr
	HostPort uint16
	PodIP    netip.Addr
	PodPort  uint16
}

// anyHostIP says whether h takes every local address.
func (h HostPort) anyHostIP() bool { return !h.HostIP.IsValid() || h.HostIP.IsUnspecified() }

func (h HostPort) String() string {
	host := "*"
	if !h.anyHostIP() {
		host = h.HostIP.String()
	}
	return fmt.Sprintf("%s %s:%d -> %s", protocolName(h.Protocol), host, h.HostPort, netip.AddrPortFrom(h.PodIP, h.PodPort))
}

// key names the forward in its rule's comment, without spaces.
func (h HostPort) key() string {
	host := "*"
	if !h.anyHostIP() {
		host = h.HostIP.String()
	}
	return fmt.Sprintf("%s/%s/%d>%s", protocolName(h.Protocol), host, h.HostPort, netip.AddrPortFrom(h.PodIP, h.PodPort))
}

// overlaps says whether two forwards of one family claim some of the same
// traffic.
func (h HostPort) overlaps(o HostPort) bool {
	return h.Protocol == o.Protocol && h.HostPort == o.HostPort && h.PodIP.Is4() == o.PodIP.Is4() &&
		(h.anyHostIP() || o.anyHostIP() || h.HostIP == o.HostIP)
}

func protocolName(p uint8) string {
	switch p {
	case unix.IPPROTO_TCP:
		return "tcp"
	case unix.IPPROTO_UDP:
		return "udp"
	case unix.IPPROTO_SCTP:
		return "sctp"
	}
	return fmt.Sprintf("protocol-%d", p)
}

// HostPortError is a host port the dataplane could not program; Port is
// the pod's host end, or empty when no host port could be (the table).
type HostPortError struct {
	Port string
	Err  error
}

func (e *HostPortError) Error() string { return e.Err.Error() }
func (e *HostPortError) Unwrap() error { return e.Err }

// HostPortProblem finds, in what Reconcile returned, why port's host ports
// are not programmed, or nil when they are.
func HostPortProblem(err error, port string) error {
	if err == nil {
		return nil
	}
	if e, ok := err.(*HostPortError); ok && (e.Port == "" || e.Port == port) {
		return e
	}
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if p := HostPortProblem(e, port); p != nil {
				return p
			}
		}
	case interface{ Unwrap() error }:
		return HostPortProblem(u.Unwrap(), port)
	}
	return nil
}

// reconcileHostPorts makes the host port tables hold exactly the forwards
// of attached ports (those on a network's bridge), in one transaction, and
// sets route_localnet on their networks' bridges. A forward that claims
// what another pod's holds (the same protocol and port, for the same
// address or every address) is left out and said: the first by host end
// keeps it.
func reconcileHostPorts(forwards []HostPort, networks []Network) error {
	bridgeOf := map[string]string{}
	for _, n := range networks {
		for _, p := range n.Ports {
			bridgeOf[p] = BridgeName(n.VNI)
		}
	}
	sorted := slices.Clone(forwards)
	slices.SortStableFunc(sorted, func(a, b HostPort) int { return strings.Compare(a.Port, b.Port) })
	var errs []error
	var kept []HostPort
	localnet := map[string]bool{}
	for _, h := range sorted {
		if _, ok := bridgeOf[h.Port]; !ok {
			continue // not attached: nothing to forward to (said where it is not attached)
		}
		if err := checkForward(h); err != nil {
			errs = append(errs, &HostPortError{Port: h.Port, Err: fmt.Errorf("host port %s of pod %s: %w", h, h.Pod, err)})
			continue
		}
		if i := slices.IndexFunc(kept, func(k HostPort) bool { return k.Port != h.Port && k.overlaps(h) }); i >= 0 {
			errs = append(errs, &HostPortError{Port: h.Port, Err: fmt.Errorf("host port %s of pod %s is not programmed: pod %s (port %s) holds %s",
				h, h.Pod, kept[i].Pod, kept[i].Port, kept[i])})
			continue
		}
		kept = append(kept, h)
		if h.PodIP.Is4() {
			localnet[bridgeOf[h.Port]] = true
		}
	}
	// route_localnet goes off before the table (and its input guard) goes,
	// and on after it is there.
	if err := setRouteLocalnet(networks, localnet, false); err != nil {
		errs = append(errs, err)
	}
	before := programmedForwards()
	if err := programHostPorts(kept); err != nil {
		return errors.Join(append(errs, &HostPortError{Err: err})...)
	}
	if err := setRouteLocalnet(networks, localnet, true); err != nil {
		errs = append(errs, &HostPortError{Err: err})
	}
	for _, h := range kept {
		if h.Protocol == unix.IPPROTO_UDP && !before[h.key()] {
			if err := forgetStaleUDP(h); err != nil {
				errs = append(errs, fmt.Errorf("host port %s of pod %s: %w", h, h.Pod, err))
			}
		}
	}
	return errors.Join(errs...)
}

// checkForward says what makes a forward impossible to program.
func checkForward(h HostPort) error {
	switch {
	case !h.PodIP.IsValid() || h.PodIP.Zone() != "" || h.PodIP.Is4In6():
		return fmt.Errorf("pod address %s is not an IPv4 or IPv6 address", h.PodIP)
	case h.HostIP.IsValid() && h.HostIP.Is4() != h.PodIP.Is4():
		return fmt.Errorf("host IP %s and pod address %s are of two families", h.HostIP, h.PodIP)
	case h.HostPort == 0 || h.PodPort == 0:
		return errors.New("port 0")
	case h.Protocol != unix.IPPROTO_TCP && h.Protocol != unix.IPPROTO_UDP && h.Protocol != unix.IPPROTO_SCTP:
		return errors.New("not tcp, udp or sctp")
	}
	return nil
}

// programHostPorts makes both families' tables anew in one transaction.
func programHostPorts(forwards []HostPort) error {
	c, err := nftables.New(nftables.WithSockOptions(bigReceiveBuffer))
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	for _, family := range []nftables.TableFamily{nftables.TableFamilyIPv4, nftables.TableFamilyIPv6} {
		t := &nftables.Table{Family: family, Name: HostPortTable}
		c.AddTable(t) // so that the delete finds it
		c.DelTable(t)
		var mine []HostPort
		for _, h := range forwards {
			if h.PodIP.Is4() == (family == nftables.TableFamilyIPv4) {
				mine = append(mine, h)
			}
		}
		if len(mine) > 0 {
			c.AddTable(t)
			addHostPortChains(c, t, mine)
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("failed to program the host ports (tables ip and ip6 %s, %d forwards): %w", HostPortTable, len(forwards), err)
	}
	return nil
}

// addHostPortChains adds a family's chains and rules to table t.
func addHostPortChains(c *nftables.Conn, t *nftables.Table, forwards []HostPort) {
	v4 := t.Family == nftables.TableFamilyIPv4
	// Offsets of the addresses in the IPv4 and IPv6 headers.
	saddr, daddr, alen := uint32(12), uint32(16), uint32(4)
	natFamily := uint32(unix.NFPROTO_IPV4)
	if !v4 {
		saddr, daddr, alen, natFamily = 8, 24, 16, unix.NFPROTO_IPV6
	}
	load := func(offset uint32) *expr.Payload {
		return &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: alen}
	}
	is := func(data []byte) *expr.Cmp { return &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: data} }
	local := []expr.Any{&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		is(binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL))}
	loopback := func(offset uint32) []expr.Any { // the address at offset is in 127.0.0.0/8 (::1)
		if !v4 {
			return []expr.Any{load(offset), is(netip.IPv6Loopback().AsSlice())}
		}
		return []expr.Any{load(offset), &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte{255, 0, 0, 0}, Xor: []byte{0, 0, 0, 0}},
			is([]byte{127, 0, 0, 0})}
	}
	dnatted := []expr.Any{&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(ipsDstNAT), Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0, 0, 0}}}

	hostports := c.AddChain(&nftables.Chain{Name: "hostports", Table: t})
	jump := &expr.Verdict{Kind: expr.VerdictJump, Chain: hostports.Name}
	pre := c.AddChain(&nftables.Chain{Name: "prerouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest})
	// Nothing from outside the node is forwarded for its loopback.
	c.AddRule(&nftables.Rule{Table: t, Chain: pre, Exprs: append(loopback(daddr), &expr.Verdict{Kind: expr.VerdictReturn})})
	c.AddRule(&nftables.Rule{Table: t, Chain: pre, Exprs: append(slices.Clone(local), jump)})
	out := c.AddChain(&nftables.Chain{Name: "output", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityNATDest})
	c.AddRule(&nftables.Rule{Table: t, Chain: out, Exprs: append(slices.Clone(local), jump)})

	// A forward with a host IP comes before one of every address.
	ordered := slices.Clone(forwards)
	slices.SortStableFunc(ordered, func(a, b HostPort) int {
		switch {
		case a.anyHostIP() == b.anyHostIP():
			return 0
		case b.anyHostIP():
			return -1
		}
		return 1
	})
	for _, h := range ordered {
		var exprs []expr.Any
		if !h.anyHostIP() {
			exprs = append(exprs, load(daddr), is(h.HostIP.AsSlice()))
		}
		exprs = append(exprs,
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}, is([]byte{h.Protocol}),
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			is(binaryutil.BigEndian.PutUint16(h.HostPort)),
			&expr.Immediate{Register: 1, Data: h.PodIP.AsSlice()},
			&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(h.PodPort)},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: natFamily, RegAddrMin: 1, RegProtoMin: 2, Specified: true})
		c.AddRule(&nftables.Rule{Table: t, Chain: hostports, Exprs: exprs, UserData: comment(h.key() + " " + h.Pod)})
	}

	post := c.AddChain(&nftables.Chain{Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
	masq := &expr.Masq{}
	seen := map[netip.Addr]bool{}
	for _, h := range forwards {
		if seen[h.PodIP] {
			continue
		}
		seen[h.PodIP] = true
		pod := []expr.Any{load(daddr), is(h.PodIP.AsSlice())}
		// From the node's loopback (IPv4 alone: IPv6 never routes ::1 out).
		if v4 {
			rule := slices.Concat(pod, loopback(saddr), dnatted, []expr.Any{masq})
			c.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: rule})
		}
		// From the pod itself, which would answer itself inside.
		rule := slices.Concat(pod, []expr.Any{load(saddr), is(h.PodIP.AsSlice())}, dnatted, []expr.Any{masq})
		c.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: rule})
	}

	if v4 {
		// route_localnet lets the bridge route 127/8: only the answers of
		// what the node sent from loopback may come in for it.
		in := c.AddChain(&nftables.Chain{Name: "input", Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter})
		rule := slices.Concat([]expr.Any{&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: ifname("lo")}},
			loopback(daddr),
			[]expr.Any{&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
				&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
					Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED), Xor: []byte{0, 0, 0, 0}},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0, 0, 0, 0}},
				&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}})
		c.AddRule(&nftables.Rule{Table: t, Chain: in, Exprs: rule})
	}
}

// comment is a rule's comment as nft shows it (at most 127 bytes).
func comment(s string) []byte {
	if len(s) > 127 {
		s = s[:127]
	}
	return userdata.AppendString(nil, userdata.TypeComment, s)
}

// programmedForwards are the keys of the forwards the tables hold now.
func programmedForwards() map[string]bool {
	out := map[string]bool{}
	for _, r := range hostPortRules() {
		key, _, _ := strings.Cut(r, " ")
		out[key] = true
	}
	return out
}

// hostPortRules are the comments of the forwards both tables hold now
// ("<protocol>/<host IP or *>/<port>><pod address> <pod>"), for tests and
// debugging; none when there is no table.
func hostPortRules() []string {
	c, err := nftables.New()
	if err != nil {
		return nil
	}
	var out []string
	for _, family := range []nftables.TableFamily{nftables.TableFamilyIPv4, nftables.TableFamilyIPv6} {
		t := &nftables.Table{Family: family, Name: HostPortTable}
		rules, err := c.GetRules(t, &nftables.Chain{Name: "hostports", Table: t})
		if err != nil {
			continue
		}
		for _, r := range rules {
			if s, ok := userdata.GetString(r.UserData, userdata.TypeComment); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// setRouteLocalnet turns route_localnet on (on) for the bridges of want,
// or off (!on) for the networks' other bridges (a bridge of no network is
// removed). On, a bridge routes what the node sends from 127.0.0.0/8 to
// a pod behind it (the forward of 127.0.0.1:hostPort; masqueraded at
// once) and its answers.
func setRouteLocalnet(networks []Network, want map[string]bool, on bool) error {
	var errs []error
	for _, n := range networks {
		name := BridgeName(n.VNI)
		if want[name] != on {
			continue
		}
		path := "/proc/sys/net/ipv4/conf/" + name + "/route_localnet"
		v := "0"
		if on {
			v = "1"
		}
		if have, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(have)) == v {
			continue
		}
		if err := os.WriteFile(path, []byte(v), 0o644); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("failed to set route_localnet=%s on %s: %w", v, name, err))
		}
	}
	return errors.Join(errs...)
}

// forgetStaleUDP deletes the conntrack entries of UDP traffic to a host
// port made before its forward was (to the node itself, or another pod):
// conntrack would keep sending that traffic where it went.
func forgetStaleUDP(h HostPort) error {
	family := netlink.InetFamily(unix.AF_INET)
	if h.PodIP.Is6() {
		family = unix.AF_INET6
	}
	addrs, err := netlink.AddrList(nil, int(family))
	if err != nil {
		return err
	}
	f := staleUDP{h: h, local: map[netip.Addr]bool{}}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			f.local[ip.Unmap()] = true
		}
	}
	if _, err := netlink.ConntrackDeleteFilters(netlink.ConntrackTable, family, f); err != nil {
		return fmt.Errorf("failed to delete stale conntrack entries: %w", err)
	}
	return nil
}

// staleUDP matches the UDP flows to h's host port on one of the node's
// (local) addresses that do not go to h's pod.
type staleUDP struct {
	h     HostPort
	local map[netip.Addr]bool
}

func (f staleUDP) MatchConntrackFlow(flow *netlink.ConntrackFlow) bool {
	if flow.Forward.Protocol != unix.IPPROTO_UDP || flow.Forward.DstPort != f.h.HostPort {
		return false
	}
	dst, _ := netip.AddrFromSlice(flow.Forward.DstIP)
	if dst = dst.Unmap(); !f.local[dst] || (!f.h.anyHostIP() && dst != f.h.HostIP) {
		return false
	}
	answerer, _ := netip.AddrFromSlice(flow.Reverse.SrcIP)
	return answerer.Unmap() != f.h.PodIP
}
