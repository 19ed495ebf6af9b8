package allocator

import (
	"errors"
	"fmt"
	"math/big"
	"net/netip"

	"k8s.io/apimachinery/pkg/types"
)

// MaxSubnetAddresses bounds the bitmap of one subnet: an IPv6 /64 has 2^64
// addresses, of which the first 2^24 are handed out.
const MaxSubnetAddresses = 1 << 24

// Owners of the addresses a subnet reserves for itself.
const (
	ReservedNetwork   types.UID = "reserved:network"
	ReservedGateway   types.UID = "reserved:gateway"
	ReservedBroadcast types.UID = "reserved:broadcast"
)

// SubnetPool allocates the addresses of one subnet. The network address,
// the gateway and (IPv4) the broadcast address are reserved from the start
// and count as used, as CN2's ipCount shows them.
type SubnetPool struct {
	prefix   netip.Prefix
	ids      *IDPool
	reserved uint64 // network, gateway, broadcast: held by the subnet itself
}

// NewSubnetPool makes the pool of prefix, with gateway (if valid) reserved.
func NewSubnetPool(prefix netip.Prefix, gateway netip.Addr) (*SubnetPool, error) {
	prefix = prefix.Masked()
	hostBits := prefix.Addr().BitLen() - prefix.Bits()
	size := uint64(MaxSubnetAddresses)
	if hostBits < 24 {
		size = 1 << hostBits
	}
	p := &SubnetPool{prefix: prefix, ids: NewIDPool(0, size)}
	if err := p.ids.Reserve(0, ReservedNetwork); err != nil {
		return nil, err
	}
	if prefix.Addr().Is4() && size > 2 && size == 1<<hostBits {
		if err := p.ids.Reserve(size-1, ReservedBroadcast); err != nil {
			return nil, err
		}
	}
	if gateway.IsValid() {
		if err := p.Reserve(gateway, ReservedGateway); err != nil {
			return nil, fmt.Errorf("failed to reserve gateway %s: %w", gateway, err)
		}
	}
	p.reserved = p.ids.Used()
	return p, nil
}

// Prefix is the subnet's block.
func (p *SubnetPool) Prefix() netip.Prefix { return p.prefix }

// Allocate returns the address owner holds, or a free one it now holds.
func (p *SubnetPool) Allocate(owner types.UID) (netip.Addr, error) {
	off, err := p.ids.Allocate(owner)
	if err != nil {
		return netip.Addr{}, err
	}
	return p.addr(off), nil
}

// Reserve gives addr to owner (a static address, or one read back from an
// object). It fails when addr is outside the subnet, or *TakenError when
// another owner holds it.
func (p *SubnetPool) Reserve(addr netip.Addr, owner types.UID) error {
	off, err := p.offset(addr)
	if err != nil {
		return err
	}
	if err := p.ids.Reserve(off, owner); err != nil {
		var taken *TakenError
		if errors.As(err, &taken) {
			return &AddressTakenError{Addr: addr, Owner: taken.Owner}
		}
		return err
	}
	return nil
}

// Release frees the address owner holds, if any.
func (p *SubnetPool) Release(owner types.UID) (netip.Addr, bool) {
	off, ok := p.ids.Release(owner)
	if !ok {
		return netip.Addr{}, false
	}
	return p.addr(off), true
}

// Held returns the address owner holds.
func (p *SubnetPool) Held(owner types.UID) (netip.Addr, bool) {
	off, ok := p.ids.Held(owner)
	if !ok {
		return netip.Addr{}, false
	}
	return p.addr(off), true
}

// Used is the number of addresses held, the reserved ones included.
func (p *SubnetPool) Used() uint64 { return p.ids.Used() }

// InUse is the number of addresses held by others than the subnet itself.
func (p *SubnetPool) InUse() uint64 { return p.ids.Used() - p.reserved }

// Free is the number of addresses left to allocate.
func (p *SubnetPool) Free() uint64 { return p.ids.Size() - p.ids.Used() }

// Usage is Used as a percentage of the whole block, as "1.56%".
func (p *SubnetPool) Usage() string {
	hostBits := uint(p.prefix.Addr().BitLen() - p.prefix.Bits())
	total := new(big.Float).SetInt(new(big.Int).Lsh(big.NewInt(1), hostBits))
	pct := new(big.Float).Quo(new(big.Float).SetUint64(p.Used()*100), total)
	f, _ := pct.Float64()
	return fmt.Sprintf("%.2f%%", f)
}

// AddressTakenError says that an address is held by another owner.
type AddressTakenError struct {
	Addr  netip.Addr
	Owner types.UID
}

func (e *AddressTakenError) Error() string {
	return fmt.Sprintf("%s is taken by %s", e.Addr, e.Owner)
}

func (p *SubnetPool) offset(addr netip.Addr) (uint64, error) {
	if !p.prefix.Contains(addr) {
		return 0, fmt.Errorf("%s is outside subnet %s", addr, p.prefix)
	}
	a, base := addr.As16(), p.prefix.Addr().As16()
	var off uint64
	for i := 0; i < 16; i++ {
		d := uint64(a[i]) - uint64(base[i]) // host bits only differ in the low bytes
		if i < 8 && d != 0 {
			return 0, fmt.Errorf("%s is beyond the first %d addresses of %s that are allocated", addr, p.ids.Size(), p.prefix)
		}
		if i >= 8 {
			off = off<<8 | uint64(a[i]^base[i])
		}
	}
	if off >= p.ids.Size() {
		return 0, fmt.Errorf("%s is beyond the first %d addresses of %s that are allocated", addr, p.ids.Size(), p.prefix)
	}
	return off, nil
}

func (p *SubnetPool) addr(off uint64) netip.Addr {
	b := p.prefix.Addr().As16()
	for i := 15; i >= 8 && off > 0; i-- {
		b[i] |= byte(off)
		off >>= 8
	}
	a := netip.AddrFrom16(b)
	if p.prefix.Addr().Is4() {
		return a.Unmap()
	}
	return a
}
