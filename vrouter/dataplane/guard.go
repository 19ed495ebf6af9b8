package dataplane

import (
	"errors"
	"fmt"
	"net"
	"sort"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Guard is what a pod's port may send: frames from its own MAC alone, and
// ARP, IPv4 and IPv6 (neighbour advertisements included) from its own
// addresses alone, so that a pod with NET_RAW cannot take another pod's or
// the gateway's MAC or address on its network.
type Guard struct {
	// Port is the host end (kv...).
	Port string
	MAC  net.HardwareAddr
	// IPs are the port's addresses (its InstanceIPs').
	IPs []net.IP
}

// GuardTable is the nftables table of the guards (family bridge): a
// prerouting chain sends each port's frames, by input interface, to the
// port's chain, which drops what the port may not send.
const GuardTable = "kontrail"

// ethertypes a pod may send; anything else (VLAN tags included) is dropped.
var (
	etherIPv4 = []byte{0x08, 0x00}
	etherARP  = []byte{0x08, 0x06}
	etherIPv6 = []byte{0x86, 0xdd}
)

// reconcileGuards makes the guard table hold exactly guards, in one
// transaction (the table is made anew: no moment without a guard), or
// removes it when there is no port. Nothing is left of it after the last
// port.
func reconcileGuards(guards []Guard) error {
	c, err := nftables.New(nftables.WithSockOptions(bigReceiveBuffer))
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	t := &nftables.Table{Family: nftables.TableFamilyBridge, Name: GuardTable}
	c.AddTable(t) // so that the delete finds it
	c.DelTable(t)
	if len(guards) == 0 {
		if err := c.Flush(); err != nil {
			return fmt.Errorf("failed to remove table bridge %s: %w", GuardTable, err)
		}
		return nil
	}
	c.AddTable(t)
	sorted := append([]Guard(nil), guards...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Port < sorted[j].Port })
	var jumps []nftables.SetElement
	for _, g := range sorted {
		chain, err := addGuardChain(c, t, g)
		if err != nil {
			return err
		}
		jumps = append(jumps, nftables.SetElement{Key: ifname(g.Port), VerdictData: &expr.Verdict{Kind: expr.VerdictJump, Chain: chain}})
	}
	// Host byte order, as nft keys interface names: `nft list` then shows them.
	ports := &nftables.Set{Table: t, Name: "ports", KeyType: nftables.TypeIFName, KeyByteOrder: binaryutil.NativeEndian,
		DataType: nftables.TypeVerdict, IsMap: true}
	if err := c.AddSet(ports, jumps); err != nil {
		return err
	}
	pre := c.AddChain(&nftables.Chain{Name: "prerouting", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityRaw})
	c.AddRule(&nftables.Rule{Table: t, Chain: pre, Exprs: []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Lookup{SourceRegister: 1, SetName: ports.Name, SetID: ports.ID, DestRegister: 0, IsDestRegSet: true},
	}})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("failed to program table bridge %s (%d ports): %w", GuardTable, len(guards), err)
	}
	return nil
}

// guardBatchBuffer is the send and receive buffer of the guards' netlink
// socket. The whole batch goes in one message, which the send buffer
// bounds (the default refused 250 ports: "message too long").
// The kernel answers every message of a batch (a dozen a port) with an
// acknowledgement before the library reads one, each taking about a
// kilobyte of the buffer: the default (rmem_default, 208 KiB) overflowed
// at 15 ports ("recvmsg: no buffer space available", found by the chaos
// suite), and a node runs a hundred pods or more.
const guardBatchBuffer = 64 << 20

// bigReceiveBuffer sets the socket's receive buffer past rmem_max, and its
// send buffer, which bounds one batch's size, past wmem_max (as nft does;
// SO_*BUFFORCE: the agent is root).
func bigReceiveBuffer(conn *netlink.Conn) error {
	raw, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = errors.Join(unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, guardBatchBuffer),
			unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, guardBatchBuffer))
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("failed to size the nftables socket's receive buffer: %w", serr)
	}
	return nil
}

// addGuardChain adds the port's chain and its address sets.
func addGuardChain(c *nftables.Conn, t *nftables.Table, g Guard) (string, error) {
	if len(g.MAC) != 6 {
		return "", fmt.Errorf("port %s: MAC %q is not an Ethernet address", g.Port, g.MAC)
	}
	v4 := []nftables.SetElement{{Key: net.IPv4zero.To4()}} // ARP probes (duplicate address detection)
	v6 := []nftables.SetElement{{Key: net.IPv6unspecified.To16()}}
	for _, ip := range g.IPs {
		if ip4 := ip.To4(); ip4 != nil {
			v4 = append(v4, nftables.SetElement{Key: ip4})
		} else if ip16 := ip.To16(); ip16 != nil {
			v6 = append(v6, nftables.SetElement{Key: ip16})
		}
	}
	set4 := &nftables.Set{Table: t, Name: "v4-" + g.Port, KeyType: nftables.TypeIPAddr}
	set6 := &nftables.Set{Table: t, Name: "v6-" + g.Port, KeyType: nftables.TypeIP6Addr}
	if err := c.AddSet(set4, v4); err != nil {
		return "", err
	}
	if err := c.AddSet(set6, v6); err != nil {
		return "", err
	}
	chain := c.AddChain(&nftables.Chain{Name: "port-" + g.Port, Table: t})
	drop := []expr.Any{&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop}}
	rule := func(exprs ...expr.Any) {
		c.AddRule(&nftables.Rule{Table: t, Chain: chain, Exprs: append(exprs, drop...)})
	}
	load := func(base expr.PayloadBase, offset, length uint32) *expr.Payload {
		return &expr.Payload{DestRegister: 1, Base: base, Offset: offset, Len: length}
	}
	is := func(data []byte) *expr.Cmp { return &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: data} }
	isNot := func(data []byte) *expr.Cmp { return &expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: data} }
	notIn := func(s *nftables.Set) *expr.Lookup {
		return &expr.Lookup{SourceRegister: 1, SetName: s.Name, SetID: s.ID, Invert: true}
	}
	notLinkLocal := []expr.Any{&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 2, Mask: []byte{0xff, 0xc0}, Xor: []byte{0, 0}},
		isNot([]byte{0xfe, 0x80})}
	ethertype := load(expr.PayloadBaseLLHeader, 12, 2)

	// Frames from another MAC (taking a neighbour's or the gateway's
	// place in the bridge's forwarding table).
	rule(load(expr.PayloadBaseLLHeader, 6, 6), isNot(g.MAC))
	// Only IPv4, ARP and IPv6.
	rule(ethertype, isNot(etherIPv4), isNot(etherARP), isNot(etherIPv6))
	// ARP: the sender's MAC and address are the port's.
	rule(ethertype, is(etherARP), load(expr.PayloadBaseNetworkHeader, 8, 6), isNot(g.MAC))
	rule(ethertype, is(etherARP), load(expr.PayloadBaseNetworkHeader, 14, 4), notIn(set4))
	// IPv4 from the port's addresses.
	rule(ethertype, is(etherIPv4), load(expr.PayloadBaseNetworkHeader, 12, 4), notIn(set4))
	// IPv6 from the port's addresses or a link-local one.
	ipv6From := append([]expr.Any{ethertype, is(etherIPv6), load(expr.PayloadBaseNetworkHeader, 8, 2)}, notLinkLocal...)
	rule(append(ipv6From, load(expr.PayloadBaseNetworkHeader, 8, 16), notIn(set6))...)
	// Neighbour advertisements for the port's addresses or link-local ones.
	na := []expr.Any{ethertype, is(etherIPv6),
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}, is([]byte{unix.IPPROTO_ICMPV6}),
		load(expr.PayloadBaseTransportHeader, 0, 1), is([]byte{136}),
		load(expr.PayloadBaseTransportHeader, 8, 2)}
	na = append(na, notLinkLocal...)
	rule(append(na, load(expr.PayloadBaseTransportHeader, 8, 16), notIn(set6))...)
	return chain.Name, nil
}

// ifname is an interface name as nftables keys it (IFNAMSIZ, zero-padded).
func ifname(name string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return b
}

// GuardRules lists the guard table's chains and, per chain, how many rules
// and the packets their drops counted: for tests and `kontrail` debugging.
func GuardRules() (map[string]int, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, err
	}
	t := &nftables.Table{Family: nftables.TableFamilyBridge, Name: GuardTable}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyBridge)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, ch := range chains {
		if ch.Table.Name != GuardTable {
			continue
		}
		rules, err := c.GetRules(t, ch)
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return nil, err
		}
		out[ch.Name] = len(rules)
	}
	return out, nil
}
