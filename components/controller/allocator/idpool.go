// Package allocator holds the controller's in-memory allocators: ids (VNIs,
// route-target numbers), addresses of a subnet, and MACs. Each allocation
// belongs to an owner (the UID of the object it is for), which makes every
// call idempotent: asking again for the same owner returns what it holds.
// The allocators keep no state of their own across restarts; the controller
// rebuilds them from the objects at start-up (Reserve).
package allocator

import (
	"errors"
	"fmt"
	"math/bits"
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// ErrExhausted is returned when a pool has nothing left to allocate.
var ErrExhausted = errors.New("exhausted")

// TakenError says that a value is held by another owner.
type TakenError struct {
	Value uint64
	Owner types.UID
}

func (e *TakenError) Error() string {
	return fmt.Sprintf("%d is taken by %s", e.Value, e.Owner)
}

// IDPool allocates integers from [first, first+size) with a bitmap: finding
// a free id scans words from a cursor that moves on past each allocation,
// so a run of allocations costs O(1) each, amortised.
type IDPool struct {
	mu     sync.Mutex
	first  uint64
	size   uint64
	words  []uint64
	next   uint64 // where the search for a free id starts, relative to first
	used   uint64
	owners map[uint64]types.UID
	byUID  map[types.UID]uint64
}

// NewIDPool makes a pool of size ids starting at first.
func NewIDPool(first, size uint64) *IDPool {
	return &IDPool{
		first:  first,
		size:   size,
		words:  make([]uint64, (size+63)/64),
		owners: map[uint64]types.UID{},
		byUID:  map[types.UID]uint64{},
	}
}

// Allocate returns the id owner holds, or a free one it now holds.
func (p *IDPool) Allocate(owner types.UID) (uint64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if off, ok := p.byUID[owner]; ok {
		return p.first + off, nil
	}
	if p.used == p.size {
		return 0, ErrExhausted
	}
	n := uint64(len(p.words))
	for i := uint64(0); i <= n; i++ {
		w := (p.next/64 + i) % n
		free := ^p.words[w]
		if i == 0 {
			free &= ^uint64(0) << (p.next % 64) // the cursor's word: above the cursor first
		}
		if free == 0 {
			continue
		}
		off := w*64 + uint64(bits.TrailingZeros64(free))
		if off >= p.size {
			continue
		}
		p.set(off, owner)
		p.next = (off + 1) % p.size
		return p.first + off, nil
	}
	// Unreachable: used < size means some word has a free bit, and the loop
	// visits every word, the cursor's twice (above, then below the cursor).
	return 0, ErrExhausted
}

// Reserve gives id to owner: the id a restarted controller reads back from
// an object, or one a user asked for. It fails with *TakenError when another
// owner holds id, and when owner holds another id.
func (p *IDPool) Reserve(id uint64, owner types.UID) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if id < p.first || id-p.first >= p.size {
		return fmt.Errorf("%d is outside the pool [%d, %d)", id, p.first, p.first+p.size)
	}
	off := id - p.first
	if holder, ok := p.owners[off]; ok {
		if holder == owner {
			return nil
		}
		return &TakenError{Value: id, Owner: holder}
	}
	if held, ok := p.byUID[owner]; ok {
		return fmt.Errorf("%s already holds %d", owner, p.first+held)
	}
	p.set(off, owner)
	return nil
}

// Release frees what owner holds, if anything, and says what it was.
func (p *IDPool) Release(owner types.UID) (uint64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	off, ok := p.byUID[owner]
	if !ok {
		return 0, false
	}
	p.words[off/64] &^= 1 << (off % 64)
	delete(p.owners, off)
	delete(p.byUID, owner)
	p.used--
	return p.first + off, true
}

// Owner says who holds id.
func (p *IDPool) Owner(id uint64) (types.UID, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if id < p.first {
		return "", false
	}
	owner, ok := p.owners[id-p.first]
	return owner, ok
}

// Held returns the id owner holds.
func (p *IDPool) Held(owner types.UID) (uint64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	off, ok := p.byUID[owner]
	return p.first + off, ok
}

// Used is the number of ids held.
func (p *IDPool) Used() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.used
}

// Size is the number of ids in the pool.
func (p *IDPool) Size() uint64 { return p.size }

func (p *IDPool) set(off uint64, owner types.UID) {
	p.words[off/64] |= 1 << (off % 64)
	p.owners[off] = owner
	p.byUID[owner] = off
	p.used++
}
