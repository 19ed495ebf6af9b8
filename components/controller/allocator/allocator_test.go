package allocator

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

func uid(i int) types.UID { return types.UID(fmt.Sprintf("owner-%d", i)) }

func TestIDPoolAllocatesEachIDOnceAndReusesReleased(t *testing.T) {
	p := NewIDPool(8000000, 130)
	seen := map[uint64]bool{}
	for i := range 130 {
		id, err := p.Allocate(uid(i))
		if err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
		if seen[id] || id < 8000000 || id >= 8000130 {
			t.Fatalf("allocation %d: id %d repeated or out of range", i, id)
		}
		seen[id] = true
		if again, _ := p.Allocate(uid(i)); again != id {
			t.Fatalf("owner %d asked again and got %d, not %d", i, again, id)
		}
	}
	if _, err := p.Allocate(uid(999)); !errors.Is(err, ErrExhausted) {
		t.Fatalf("full pool: got %v, want ErrExhausted", err)
	}
	released, ok := p.Release(uid(70))
	if !ok {
		t.Fatal("release failed")
	}
	if id, err := p.Allocate(uid(999)); err != nil || id != released {
		t.Fatalf("after release got %d, %v; want %d", id, err, released)
	}
}

func TestIDPoolReserve(t *testing.T) {
	p := NewIDPool(1, 10)
	if err := p.Reserve(5, uid(1)); err != nil {
		t.Fatal(err)
	}
	if err := p.Reserve(5, uid(1)); err != nil {
		t.Fatalf("idempotent reserve: %v", err)
	}
	var taken *TakenError
	if err := p.Reserve(5, uid(2)); !errors.As(err, &taken) || taken.Owner != uid(1) {
		t.Fatalf("reserve of a held id: %v", err)
	}
	if err := p.Reserve(11, uid(3)); err == nil {
		t.Fatal("reserve outside the pool succeeded")
	}
	// Allocation skips the reserved id.
	for i := 10; i < 19; i++ {
		if id, err := p.Allocate(uid(i)); err != nil || id == 5 {
			t.Fatalf("allocate: %d, %v", id, err)
		}
	}
}

func TestSubnetPool(t *testing.T) {
	p, err := NewSubnetPool(netip.MustParsePrefix("172.16.10.0/24"), netip.MustParseAddr("172.16.10.1"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Used() != 3 {
		t.Fatalf("used = %d, want 3 (network, gateway, broadcast)", p.Used())
	}
	a, err := p.Allocate("pod")
	if err != nil || a != netip.MustParseAddr("172.16.10.2") {
		t.Fatalf("first address = %s, %v; want 172.16.10.2", a, err)
	}
	// The seed: one pod on a /24 shows 4 addresses and 1.56%.
	if p.Used() != 4 || p.Usage() != "1.56%" {
		t.Fatalf("used %d, usage %s; want 4, 1.56%%", p.Used(), p.Usage())
	}
	var taken *AddressTakenError
	if err := p.Reserve(netip.MustParseAddr("172.16.10.2"), "other"); !errors.As(err, &taken) || taken.Owner != "pod" {
		t.Fatalf("static taken: %v", err)
	}
	if err := p.Reserve(netip.MustParseAddr("172.16.11.2"), "other"); err == nil {
		t.Fatal("static outside succeeded")
	}
	if err := p.Reserve(netip.MustParseAddr("172.16.10.200"), "static"); err != nil {
		t.Fatal(err)
	}

	small, _ := NewSubnetPool(netip.MustParsePrefix("10.0.0.0/29"), netip.MustParseAddr("10.0.0.1"))
	var got []string
	for i := range 5 {
		a, err := small.Allocate(uid(i))
		if err != nil {
			t.Fatalf("allocation %d of a /29: %v", i, err)
		}
		got = append(got, a.String())
	}
	if fmt.Sprint(got) != "[10.0.0.2 10.0.0.3 10.0.0.4 10.0.0.5 10.0.0.6]" {
		t.Fatalf("a /29 gave %v", got)
	}
	if _, err := small.Allocate("sixth"); !errors.Is(err, ErrExhausted) {
		t.Fatalf("sixth address of a /29: %v", err)
	}

	v6, _ := NewSubnetPool(netip.MustParsePrefix("fd00:10::/64"), netip.MustParseAddr("fd00:10::1"))
	if a, err := v6.Allocate("pod"); err != nil || a != netip.MustParseAddr("fd00:10::2") {
		t.Fatalf("v6 = %s, %v", a, err)
	}
	if err := v6.Reserve(netip.MustParseAddr("fd00:10::1:0:5"), "far"); err == nil {
		t.Fatal("reserve beyond the allocated part of a /64 succeeded")
	}
}

func TestMACPool(t *testing.T) {
	p := NewMACPool()
	mac, err := p.Allocate("vmi")
	if err != nil || mac[:3] != "02:" {
		t.Fatalf("mac %s, %v", mac, err)
	}
	var taken *MACTakenError
	if err := p.Reserve(mac, "other"); !errors.As(err, &taken) {
		t.Fatalf("taken MAC: %v", err)
	}
	if err := p.Reserve("01:00:5e:00:00:01", "mcast"); err == nil {
		t.Fatal("multicast MAC accepted")
	}
	if err := p.Reserve("02:21:0f:f6:47:fc", "seed"); err != nil {
		t.Fatal(err)
	}
	p.Release("seed")
	if err := p.Reserve("02:21:0f:f6:47:fc", "other"); err != nil {
		t.Fatalf("released MAC not free: %v", err)
	}
}

// BenchmarkSubnetAllocateUntilFull allocates every address of a /16, then
// releases them all; it reports allocations per second.
func BenchmarkSubnetAllocateUntilFull(b *testing.B) {
	prefix := netip.MustParsePrefix("10.244.0.0/16")
	owners := make([]types.UID, 1<<16)
	for i := range owners {
		owners[i] = uid(i)
	}
	allocs := 0
	for b.Loop() {
		p, _ := NewSubnetPool(prefix, netip.MustParseAddr("10.244.0.1"))
		for _, o := range owners {
			if _, err := p.Allocate(o); err != nil {
				if errors.Is(err, ErrExhausted) {
					break
				}
				b.Fatal(err)
			}
			allocs++
		}
	}
	b.ReportMetric(float64(allocs)/b.Elapsed().Seconds(), "allocs/s")
}
