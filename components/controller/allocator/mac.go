package allocator

import (
	"crypto/rand"
	"fmt"
	"net"
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// MACPool hands out unique, locally administered unicast MACs
// (02:xx:xx:xx:xx:xx, as CN2's), at random: with 2^40 values, a random draw
// collides with a held one almost never, so allocation is O(1).
type MACPool struct {
	mu     sync.Mutex
	owners map[string]types.UID
	byUID  map[types.UID]string
}

// NewMACPool makes an empty pool.
func NewMACPool() *MACPool {
	return &MACPool{owners: map[string]types.UID{}, byUID: map[types.UID]string{}}
}

// Allocate returns the MAC owner holds, or a new one it now holds.
func (p *MACPool) Allocate(owner types.UID) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if mac, ok := p.byUID[owner]; ok {
		return mac, nil
	}
	for range 64 {
		b := make([]byte, 6)
		if _, err := rand.Read(b[1:]); err != nil {
			return "", fmt.Errorf("failed to read random bytes: %w", err)
		}
		b[0] = 0x02
		mac := net.HardwareAddr(b).String()
		if _, taken := p.owners[mac]; !taken {
			p.owners[mac] = owner
			p.byUID[owner] = mac
			return mac, nil
		}
	}
	return "", ErrExhausted
}

// Reserve gives mac to owner: one a user asked for, or one read back from an
// object. It fails when mac is not a unicast MAC and when another owner holds it.
func (p *MACPool) Reserve(mac string, owner types.UID) error {
	hw, err := net.ParseMAC(mac)
	if err != nil || len(hw) != 6 {
		return fmt.Errorf("%q is not a MAC address", mac)
	}
	if hw[0]&1 == 1 {
		return fmt.Errorf("%s is a multicast MAC: an interface needs a unicast one (the lowest bit of the first octet clear)", hw)
	}
	key := hw.String()
	p.mu.Lock()
	defer p.mu.Unlock()
	if holder, ok := p.owners[key]; ok && holder != owner {
		return &MACTakenError{MAC: key, Owner: holder}
	}
	if held, ok := p.byUID[owner]; ok && held != key {
		return fmt.Errorf("%s already holds %s", owner, held)
	}
	p.owners[key] = owner
	p.byUID[owner] = key
	return nil
}

// Release frees the MAC owner holds.
func (p *MACPool) Release(owner types.UID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if mac, ok := p.byUID[owner]; ok {
		delete(p.owners, mac)
		delete(p.byUID, owner)
	}
}

// MACTakenError says that a MAC is held by another owner.
type MACTakenError struct {
	MAC   string
	Owner types.UID
}

func (e *MACTakenError) Error() string {
	return fmt.Sprintf("%s is taken by %s", e.MAC, e.Owner)
}
