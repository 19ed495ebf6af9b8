package dataplane

import (
	"fmt"
	"net"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// SNATTable is the nftables table (family ip) of fabric SNAT: a network
// the node routes whose VirtualNetwork has fabricSNAT (the pod network's
// default, as CN2's) leaves the cluster through the fabric with the
// node's address. Traffic between its pods, carried by the overlay,
// never passes it. A network with fabricForwarding has none (fabric.go).
const SNATTable = "kontrail-snat"

// reconcileSNAT makes the SNAT table hold a masquerade rule for each IPv4
// prefix of a routed network with FabricSNAT (from the prefix to anywhere
// outside it, out of the fabric link), in one transaction, or removes the
// table when there is none.
func reconcileSNAT(networks []Network, fabricLink string) error {
	var prefixes []*net.IPNet
	for _, n := range networks {
		if !n.FabricSNAT || n.FabricForwarding { // forwarding takes precedence: the pods leave with their own addresses
			continue
		}
		for _, gw := range n.Gateways {
			if _, prefix, err := net.ParseCIDR(gw); err == nil && prefix.IP.To4() != nil {
				prefixes = append(prefixes, prefix)
			}
		}
	}
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	t := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: SNATTable}
	c.AddTable(t) // so that the delete finds it
	c.DelTable(t)
	if len(prefixes) > 0 {
		c.AddTable(t)
		post := c.AddChain(&nftables.Chain{Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
			Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
		for _, p := range prefixes {
			ip, mask := []byte(p.IP.To4()), []byte(net.IP(p.Mask).To4())
			c.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: []expr.Any{
				&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname(fabricLink)},
				// ip saddr in the prefix
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
				&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ip},
				// ip daddr outside it
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
				&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
				&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: ip},
				&expr.Masq{},
			}})
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("failed to program table ip %s: %w", SNATTable, err)
	}
	return nil
}
