// Package controllers holds the reconcilers of the Kontrail controller: one
// concern each (network ids and routing instances, route-target numbers,
// subnet pools, addresses, MACs, network routers), sharing the in-memory
// allocators of State.
package controllers

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
	"github.com/kontrail/kontrail/components/controller/allocator"
)

const (
	// VNIs are 24-bit VXLAN network identifiers; 0 is not one.
	firstVNI = 1
	vniCount = 1<<24 - 1

	// System route targets are target:<AS>:<8000000+n>, as CN2's.
	firstRouteTargetNumber = corev1alpha1.FirstSystemRouteTargetNumber
	routeTargetNumberCount = 1 << 22

	// AnnotationAllocated, on an InstanceIP or a VirtualMachineInterface,
	// records what the controller allocated for it: "<subnet>/<address>" or
	// the MAC. It is written in the same update as the value itself, so a
	// restarted controller knows which objects hold what, and which ones
	// only ask for it (a static address another object holds, say).
	AnnotationAllocated = "controller.kontrail.juniper.net/allocated"
)

// State is the controller's allocations, shared by its reconcilers. It is
// rebuilt from the objects before the first reconcile, so a restarted
// controller (or a new leader) never hands out twice what an object holds:
// the Allocations (the locks, which decide) and the networks, Subnets and
// route targets' holders are read from the apiserver itself; the
// InstanceIPs and interfaces, tens of thousands at scale, from the
// synced cache, whose lag can cost a proposal but never a second holder
// (a value whose Allocation exists is refused to anyone else, and learnt).
type State struct {
	// reader lists the objects the state is rebuilt from: the manager's
	// API reader, which reads the apiserver, never a cache.
	reader client.Reader
	// cache lists the InstanceIPs and interfaces: the manager's client.
	cache client.Reader
	// locks are the Allocation objects, the apiserver's lock on each value.
	locks *locks

	VNIs         *allocator.IDPool
	RouteTargets *allocator.IDPool
	MACs         *allocator.MACPool

	mu      sync.Mutex
	subnets map[types.UID]*allocator.SubnetPool
	names   map[types.UID]string // owner UID -> kind/name, for messages

	loadMu sync.Mutex
	loaded atomic.Bool
}

// NewState makes empty allocators, rebuilt by Load from what reader lists;
// c writes the Allocations.
func NewState(c client.Client, reader client.Reader) *State {
	return &State{
		reader:       reader,
		cache:        c,
		locks:        newLocks(c, reader),
		VNIs:         allocator.NewIDPool(firstVNI, vniCount),
		RouteTargets: allocator.NewIDPool(firstRouteTargetNumber, routeTargetNumberCount),
		MACs:         allocator.NewMACPool(),
		subnets:      map[types.UID]*allocator.SubnetPool{},
		names:        map[types.UID]string{},
	}
}

// SubnetPool returns the pool of sn, made on first use.
func (s *State) SubnetPool(sn *corev1alpha1.Subnet) (*allocator.SubnetPool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.subnets[sn.UID]; ok {
		return p, nil
	}
	prefix, err := netip.ParsePrefix(sn.Spec.CIDR)
	if err != nil {
		return nil, fmt.Errorf("subnet %s/%s has an invalid cidr %q: %w", sn.Namespace, sn.Name, sn.Spec.CIDR, err)
	}
	gw, _ := netip.ParseAddr(sn.Spec.DefaultGateway) // invalid: no gateway
	p, err := allocator.NewSubnetPool(prefix, gw)
	if err != nil {
		return nil, fmt.Errorf("failed to make the pool of subnet %s/%s: %w", sn.Namespace, sn.Name, err)
	}
	s.subnets[sn.UID] = p
	return p, nil
}

// ForgetSubnet drops the pool of a deleted subnet.
func (s *State) ForgetSubnet(uid types.UID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.subnets, uid)
}

// existingSubnetPool returns the pool of a subnet if one was made.
func (s *State) existingSubnetPool(uid types.UID) (*allocator.SubnetPool, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.subnets[uid]
	return p, ok
}

// ReleaseAddress frees the address owner holds, in whichever subnet.
func (s *State) ReleaseAddress(owner types.UID) (netip.Addr, bool) {
	s.mu.Lock()
	pools := make([]*allocator.SubnetPool, 0, len(s.subnets))
	for _, p := range s.subnets {
		pools = append(pools, p)
	}
	s.mu.Unlock()
	for _, p := range pools {
		if addr, ok := p.Release(owner); ok {
			return addr, true
		}
	}
	return netip.Addr{}, false
}

// nameOwner and ownerName map allocation owners to names for messages.
func (s *State) nameOwner(uid types.UID, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.names[uid] = name
}

func (s *State) ownerName(uid types.UID) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := s.names[uid]; ok {
		return n
	}
	return string(uid)
}

// Load rebuilds the allocators from the objects once, listed from the
// apiserver; every reconciler calls it first, and they run only on the
// leader. A failed load is tried again by the next reconcile.
func (s *State) Load(ctx context.Context) error {
	if s.loaded.Load() {
		return nil
	}
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	if s.loaded.Load() {
		return nil
	}
	if err := s.load(ctx, s.reader); err != nil {
		return err
	}
	s.loaded.Store(true)
	return nil
}

func (s *State) load(ctx context.Context, c client.Reader) error {
	log := logf.FromContext(ctx).WithName("state")
	start := time.Now()

	var vns corev1alpha1.VirtualNetworkList
	if err := c.List(ctx, &vns); err != nil {
		return fmt.Errorf("failed to list VirtualNetworks: %w", err)
	}
	for _, vn := range vns.Items {
		if id := vn.Status.VirtualNetworkNetworkID; id > 0 {
			if err := s.VNIs.Reserve(uint64(id), vn.UID); err != nil {
				log.Error(err, "VirtualNetwork holds a VNI that cannot be reserved", "virtualnetwork", client.ObjectKeyFromObject(&vn))
			}
		}
	}

	var ris corev1alpha1.RoutingInstanceList
	if err := c.List(ctx, &ris); err != nil {
		return fmt.Errorf("failed to list RoutingInstances: %w", err)
	}
	for _, ri := range ris.Items {
		if n, ok := systemRouteTargetNumber(ri.Status.DefaultRouteTarget); ok {
			if err := s.RouteTargets.Reserve(n, ri.UID); err != nil {
				log.Error(err, "RoutingInstance holds a route target that cannot be reserved", "routinginstance", client.ObjectKeyFromObject(&ri))
			}
		}
	}

	var vnrs corev1alpha1.VirtualNetworkRouterList
	if err := c.List(ctx, &vnrs); err != nil {
		return fmt.Errorf("failed to list VirtualNetworkRouters: %w", err)
	}
	for _, vnr := range vnrs.Items {
		if n, ok := vnrRouteTargetNumber(vnr.Status.RouteTarget); ok {
			if err := s.RouteTargets.Reserve(n, vnr.UID); err != nil {
				log.Error(err, "VirtualNetworkRouter holds a route target that cannot be reserved", "virtualnetworkrouter", client.ObjectKeyFromObject(&vnr))
			}
		}
	}

	var subnets corev1alpha1.SubnetList
	if err := c.List(ctx, &subnets); err != nil {
		return fmt.Errorf("failed to list Subnets: %w", err)
	}
	byName := map[types.NamespacedName]*corev1alpha1.Subnet{}
	for i := range subnets.Items {
		byName[client.ObjectKeyFromObject(&subnets.Items[i])] = &subnets.Items[i]
	}
	networks := time.Since(start)

	// The Allocations are the apiserver's record of who holds what: what
	// they say wins over what the holders record (a value claimed by an
	// allocation whose write to its holder did not happen is still held),
	// so they are reserved first. They are listed from the apiserver while
	// the holders' caches finish their sync (a fresh leader's caches list
	// tens of thousands of objects): the two reads overlap.
	allocationsDone := make(chan error, 1)
	allocations := 0
	var allocationsSeconds time.Duration
	go func() {
		err := s.loadAllocations(ctx, c, byName, &allocations)
		allocationsSeconds = time.Since(start) - networks
		allocationsDone <- err
	}()
	var iips corev1alpha1.InstanceIPList
	// Read, never written: the cache's objects themselves, not copies.
	iipErr := s.cache.List(ctx, &iips, client.UnsafeDisableDeepCopy)
	var vmis corev1alpha1.VirtualMachineInterfaceList
	vmiErr := s.cache.List(ctx, &vmis, client.UnsafeDisableDeepCopy)
	holdersListed := time.Since(start) - networks
	if err := <-allocationsDone; err != nil {
		return fmt.Errorf("failed to list Allocations: %w", err)
	}
	if iipErr != nil {
		return fmt.Errorf("failed to list InstanceIPs: %w", iipErr)
	}
	if vmiErr != nil {
		return fmt.Errorf("failed to list VirtualMachineInterfaces: %w", vmiErr)
	}
	reserving := time.Now()
	for _, iip := range iips.Items {
		subnet, addr, ok := parseAllocatedAddress(iip.Annotations[AnnotationAllocated])
		if !ok || addr.String() != iip.Spec.InstanceIPAddress {
			continue
		}
		sn := byName[subnet]
		if sn == nil {
			log.Info("InstanceIP holds an address of a Subnet that is gone", "instanceip", iip.Name, "subnet", subnet)
			continue
		}
		pool, err := s.SubnetPool(sn)
		if err == nil {
			err = pool.Reserve(addr, iip.UID)
		}
		if err != nil {
			log.Error(err, "InstanceIP holds an address that cannot be reserved", "instanceip", iip.Name)
			continue
		}
		s.nameOwner(iip.UID, "InstanceIP "+iip.Name)
	}
	for _, vmi := range vmis.Items {
		if mac := vmi.Annotations[AnnotationAllocated]; mac != "" {
			if err := s.MACs.Reserve(mac, vmi.UID); err != nil {
				log.Error(err, "VirtualMachineInterface holds a MAC that cannot be reserved", "virtualmachineinterface", client.ObjectKeyFromObject(&vmi))
				continue
			}
			s.nameOwner(vmi.UID, "VirtualMachineInterface "+vmi.Namespace+"/"+vmi.Name)
		}
	}

	log.Info("Rebuilt allocations from the objects", "allocations", allocations, "vnis", s.VNIs.Used(), "routeTargets", s.RouteTargets.Used(),
		"instanceIPs", len(iips.Items), "interfaces", len(vmis.Items), "networksSeconds", networks.Seconds(),
		"allocationsSeconds", allocationsSeconds.Seconds(), "holdersListedSeconds", holdersListed.Seconds(),
		"holdersReservedSeconds", time.Since(reserving).Seconds(), "seconds", time.Since(start).Seconds())
	return nil
}

// loadAllocations reserves every Allocation's value for its holder, in
// pages: one list of every Allocation is a response of tens of megabytes
// at scale, held whole while it is decoded.
func (s *State) loadAllocations(ctx context.Context, c client.Reader, byName map[types.NamespacedName]*corev1alpha1.Subnet, count *int) error {
	log := logf.FromContext(ctx).WithName("state")
	return eachAllocation(ctx, c, func(a *corev1alpha1.Allocation) {
		*count++
		holder := a.Spec.HolderReference
		var err error
		switch a.Spec.Type {
		case corev1alpha1.AllocationAddress:
			ref := a.Spec.SubnetReference
			sn := byName[types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}]
			addr, perr := netip.ParseAddr(a.Spec.Value)
			switch {
			case perr != nil:
				err = perr
			case sn == nil:
				return // its Subnet is gone: the holder keeps it (InstanceIPReconciler.keep)
			default:
				var pool *allocator.SubnetPool
				if pool, err = s.SubnetPool(sn); err == nil {
					err = pool.Reserve(addr, holder.UID)
				}
			}
		case corev1alpha1.AllocationMAC:
			err = s.MACs.Reserve(a.Spec.Value, holder.UID)
		case corev1alpha1.AllocationVNI:
			var n uint64
			if _, err = fmt.Sscan(a.Spec.Value, &n); err == nil {
				err = s.VNIs.Reserve(n, holder.UID)
			}
		}
		if err != nil {
			log.Error(err, "Allocation cannot be reserved", "allocation", a.Name)
		}
		s.locks.confirm(a.Name, holder.UID)
		s.nameOwner(holder.UID, holder.Kind+" "+qualified(holder.Namespace, holder.Name))
	})
}

// allocatedAddress is the AnnotationAllocated value of an InstanceIP:
// <subnet namespace>/<subnet name>/<address>.
func allocatedAddress(sn *corev1alpha1.Subnet, addr netip.Addr) string {
	return sn.Namespace + "/" + sn.Name + "/" + addr.String()
}

func parseAllocatedAddress(v string) (types.NamespacedName, netip.Addr, bool) {
	ns, rest, ok := strings.Cut(v, "/")
	name, text, ok2 := strings.Cut(rest, "/")
	addr, err := netip.ParseAddr(text)
	return types.NamespacedName{Namespace: ns, Name: name}, addr, ok && ok2 && err == nil
}

// subnetKey is where a network's subnet reference points: its namespace,
// or the network's when it names none.
func subnetKey(ref *corev1alpha1.ResourceReference, network string) types.NamespacedName {
	ns := ref.Namespace
	if ns == "" {
		ns = network
	}
	return types.NamespacedName{Namespace: ns, Name: ref.Name}
}

// systemRouteTargetNumber reads n back from a routing instance's default
// route target "<AS>:<n>".
func systemRouteTargetNumber(rt string) (uint64, bool) {
	_, n, ok := strings.Cut(rt, ":")
	if !ok {
		return 0, false
	}
	v, err := corev1alpha1.ParseRouteTarget("target:1:" + n)
	if err != nil || v.Number < firstRouteTargetNumber {
		return 0, false
	}
	return uint64(v.Number), true
}

// qualified is namespace/name, or name for a cluster-scoped object.
func qualified(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}

// learn records in memory that another object holds a value the
// apiserver refused to this one (its Allocation exists): the pool then
// proposes other values.
func (s *State) learn(reserve func(types.UID) error, other *corev1alpha1.ResourceReference) {
	_ = reserve(other.UID) // held by other already, or a value other holds besides: the lock decides anyway
	s.nameOwner(other.UID, other.Kind+" "+qualified(other.Namespace, other.Name))
}

// releaseOwner frees whatever owner holds in memory: an address, a MAC, a VNI.
func (s *State) releaseOwner(owner types.UID) {
	s.ReleaseAddress(owner)
	s.MACs.Release(owner)
	s.VNIs.Release(owner)
}

// listPage is how many objects one page of a paged list holds.
const listPage = 500

// eachAllocation calls f with every Allocation, listed from c in pages.
func eachAllocation(ctx context.Context, c client.Reader, f func(*corev1alpha1.Allocation)) error {
	var list corev1alpha1.AllocationList
	for {
		if err := c.List(ctx, &list, client.Limit(listPage), client.Continue(list.Continue)); err != nil {
			return err
		}
		for i := range list.Items {
			f(&list.Items[i])
		}
		if list.Continue == "" {
			return nil
		}
	}
}
