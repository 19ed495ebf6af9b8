package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
	"github.com/kontrail/kontrail/cni/agentapi"
)

// Annotations and labels kubemanager writes (api/core/v1alpha1).
const (
	labelPodUID              = corev1alpha1.LabelPodUID
	annotationPod            = corev1alpha1.AnnotationPod
	annotationNetworksStatus = corev1alpha1.AnnotationNetworksStatus
)

// resolver answers the plugin's question "what interfaces does this pod
// get": from the pod's network-status, which kubemanager writes once the
// controller allocated everything, and the pod's VirtualMachineInterfaces
// and InstanceIPs.
type resolver struct {
	node string
	// cache holds this node's pods, the networks and subnets, and every
	// interface and address, indexed by their pod's UID: the answer takes
	// no apiserver round trip (two label-selected lists took 40-60 ms).
	cache client.Reader
	mtu   int
	// podChanged wakes a wait when the pod changes in the cache (its
	// network-status comes last, once everything is allocated).
	podChanged *signals
	// poll is how often a wait looks again without a change of the pod.
	poll time.Duration
	// failureGrace is how long kubemanager's failure must last to be final.
	failureGrace time.Duration
}

// maxInterfacesWait bounds a request's wait, whatever it asks.
const maxInterfacesWait = 10 * time.Minute

// Interfaces waits, up to req.WaitSeconds (at most maxInterfacesWait), for
// the pod's interfaces.
func (r *resolver) Interfaces(ctx context.Context, req agentapi.InterfacesRequest) (*agentapi.Interfaces, *agentapi.Error) {
	maxWait := time.Duration(req.WaitSeconds) * time.Second
	if maxWait <= 0 {
		maxWait = 60 * time.Second
	}
	maxWait = min(maxWait, maxInterfacesWait)
	deadline := time.Now().Add(maxWait)
	why := waiting{reason: "kubemanager has not written the pod's network-status yet"}
	var failingSince time.Time
	key := types.NamespacedName{Namespace: req.PodNamespace, Name: req.PodName}
	for {
		// Listening before looking: a change between the two still wakes.
		changed, stop := r.podChanged.listen(key)
		itfs, wait, failure := r.try(ctx, req)
		if itfs != nil || failure != nil {
			stop()
		}
		switch {
		case itfs != nil:
			return itfs, nil
		case failure != nil && failure.Retry:
			// kubemanager tries again by itself (a NAD's network still
			// being made): the problem must last a while to be the answer.
			if failingSince.IsZero() {
				failingSince = time.Now()
			}
			if time.Since(failingSince) >= r.failureGrace || time.Now().After(deadline) {
				return nil, failure
			}
			wait = waiting{reason: failure.Message}
		case failure != nil:
			return nil, failure
		default:
			failingSince = time.Time{}
		}
		why = wait
		if time.Now().After(deadline) {
			code := uint(agentapi.CodeTryAgainLater)
			if why.unknownPod {
				code = agentapi.CodeUnknownContainer
			}
			return nil, &agentapi.Error{Code: code, Message: fmt.Sprintf("interfaces of pod %s/%s not allocated after %s: %s",
				req.PodNamespace, req.PodName, maxWait, why.reason)}
		}
		select {
		case <-ctx.Done():
			stop()
			return nil, &agentapi.Error{Code: agentapi.CodeTryAgainLater, Message: "the request was cancelled while waiting: " + why.reason}
		case <-changed:
		case <-time.After(r.poll):
		}
		stop()
	}
}

// indexPodUID indexes interfaces and addresses by their pod's UID label.
const indexPodUID = "podUID"

// indexByPodUID adds the index to the cache of interfaces and addresses.
func indexByPodUID(ctx context.Context, indexer client.FieldIndexer) error {
	byLabel := func(o client.Object) []string {
		if uid := o.GetLabels()[labelPodUID]; uid != "" {
			return []string{uid}
		}
		return nil
	}
	for _, obj := range []client.Object{&corev1alpha1.VirtualMachineInterface{}, &corev1alpha1.InstanceIP{}} {
		if err := indexer.IndexField(ctx, obj, indexPodUID, byLabel); err != nil {
			return fmt.Errorf("failed to index %T by pod UID: %w", obj, err)
		}
	}
	return nil
}

// signals wakes the waiters of a key when it changes.
type signals struct {
	mu      sync.Mutex
	waiters map[types.NamespacedName]map[chan struct{}]bool
}

func newSignals() *signals {
	return &signals{waiters: map[types.NamespacedName]map[chan struct{}]bool{}}
}

// listen returns a channel closed at the key's next change, and the
// function that stops listening.
func (s *signals) listen(key types.NamespacedName) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.waiters[key] == nil {
		s.waiters[key] = map[chan struct{}]bool{}
	}
	s.waiters[key][ch] = true
	return ch, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.waiters[key][ch] {
			delete(s.waiters[key], ch)
			if len(s.waiters[key]) == 0 {
				delete(s.waiters, key)
			}
		}
	}
}

// notify wakes every listener of key.
func (s *signals) notify(key types.NamespacedName) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.waiters[key] {
		close(ch)
	}
	delete(s.waiters, key)
}

// waiting is what an answer waits for; unknownPod: the pod is not (yet)
// on this node, which the plugin tells the runtime as an unknown container.
type waiting struct {
	reason     string
	unknownPod bool
}

// try answers now: the interfaces, or what they wait for, or a failure.
func (r *resolver) try(ctx context.Context, req agentapi.InterfacesRequest) (*agentapi.Interfaces, waiting, *agentapi.Error) {
	pod := &corev1.Pod{}
	if err := r.cache.Get(ctx, client.ObjectKey{Namespace: req.PodNamespace, Name: req.PodName}, pod); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, waiting{reason: fmt.Sprintf("pod %s/%s is not known on node %s", req.PodNamespace, req.PodName, r.node), unknownPod: true}, nil
		}
		return nil, waiting{}, internal(err)
	}
	if req.PodUID != "" && string(pod.UID) != req.PodUID {
		return nil, waiting{reason: fmt.Sprintf("pod %s/%s is not known on node %s with UID %s", req.PodNamespace, req.PodName, r.node, req.PodUID), unknownPod: true}, nil
	}
	if raw := pod.Annotations[corev1alpha1.AnnotationPodProblem]; raw != "" {
		var problem corev1alpha1.PodProblem
		if err := json.Unmarshal([]byte(raw), &problem); err != nil {
			return nil, waiting{}, &agentapi.Error{Code: agentapi.CodeInvalidConfig, Message: fmt.Sprintf("pod %s/%s: kubemanager's %s does not parse: %v",
				pod.Namespace, pod.Name, corev1alpha1.AnnotationPodProblem, err)}
		}
		return nil, waiting{}, &agentapi.Error{Code: agentapi.CodeInvalidConfig, Retry: problem.Retry,
			Message: fmt.Sprintf("pod %s/%s: %s (see its %s annotation and events)", pod.Namespace, pod.Name, problem.Message, annotationNetworksStatus)}
	}
	raw := pod.Annotations[nadv1.NetworkStatusAnnot]
	if raw == "" {
		return nil, waiting{reason: "kubemanager has not written the pod's network-status yet (the controller may still be allocating)"}, nil
	}
	var statuses []nadv1.NetworkStatus
	if err := json.Unmarshal([]byte(raw), &statuses); err != nil {
		return nil, waiting{}, &agentapi.Error{Code: agentapi.CodeInvalidConfig, Message: "the pod's network-status does not parse: " + err.Error()}
	}
	var vmis corev1alpha1.VirtualMachineInterfaceList
	if err := r.cache.List(ctx, &vmis, client.InNamespace(pod.Namespace), client.MatchingFields{indexPodUID: string(pod.UID)}); err != nil {
		return nil, waiting{}, internal(err)
	}
	var iips corev1alpha1.InstanceIPList
	if err := r.cache.List(ctx, &iips, client.MatchingFields{indexPodUID: string(pod.UID)}); err != nil {
		return nil, waiting{}, internal(err)
	}
	out := &agentapi.Interfaces{PodUID: string(pod.UID)}
	for _, st := range statuses {
		itf, why, err := r.build(ctx, st, vmis.Items, iips.Items)
		if err != nil || why != "" {
			return nil, waiting{reason: why}, err
		}
		if err := routeDefault(&itf, st); err != nil {
			return nil, waiting{}, err
		}
		out.Interfaces = append(out.Interfaces, itf)
	}
	sort.SliceStable(out.Interfaces, func(i, j int) bool { return out.Interfaces[i].DefaultRoute && !out.Interfaces[j].DefaultRoute })
	return out, waiting{}, nil
}

// build describes one interface of the pod's network-status.
func (r *resolver) build(ctx context.Context, st nadv1.NetworkStatus, vmis []corev1alpha1.VirtualMachineInterface, iips []corev1alpha1.InstanceIP) (agentapi.Interface, string, *agentapi.Error) {
	var vmi *corev1alpha1.VirtualMachineInterface
	for i := range vmis {
		if vmis[i].Spec.InterfaceName == st.Interface && vmis[i].DeletionTimestamp.IsZero() {
			vmi = &vmis[i]
		}
	}
	if vmi == nil {
		return agentapi.Interface{}, "no VirtualMachineInterface for " + st.Interface + " yet", nil
	}
	ref := vmi.Spec.VirtualNetworkReference
	itf := agentapi.Interface{Name: st.Interface, VMI: vmi.Namespace + "/" + vmi.Name, Network: ref.Namespace + "/" + ref.Name, MTU: r.mtu}
	if macs := vmi.Spec.VirtualMachineInterfaceMacAddresses.MACAddress; len(macs) > 0 {
		itf.MAC = string(macs[0])
	}
	if itf.MAC == "" {
		return itf, "VirtualMachineInterface " + vmi.Name + " has no MAC yet", nil
	}
	for _, iip := range iips {
		if len(iip.Spec.VirtualMachineInterfaceReferences) == 0 || iip.Spec.VirtualMachineInterfaceReferences[0].Name != vmi.Name ||
			!iip.DeletionTimestamp.IsZero() {
			continue
		}
		if iip.Status.State != corev1alpha1.StateSuccess || iip.Status.SubnetReference == nil {
			return itf, "InstanceIP " + iip.Name + " is not allocated yet", nil
		}
		subnet := &corev1alpha1.Subnet{}
		sref := iip.Status.SubnetReference
		if err := r.cache.Get(ctx, client.ObjectKey{Namespace: sref.Namespace, Name: sref.Name}, subnet); err != nil {
			return itf, fmt.Sprintf("Subnet %s/%s of InstanceIP %s: %v", sref.Namespace, sref.Name, iip.Name, err), nil
		}
		prefix, err := netip.ParsePrefix(subnet.Spec.CIDR)
		if err != nil {
			return itf, "", &agentapi.Error{Code: agentapi.CodeInvalidConfig, Message: fmt.Sprintf("Subnet %s has CIDR %q: %v", subnet.Name, subnet.Spec.CIDR, err)}
		}
		ip := agentapi.IP{Address: fmt.Sprintf("%s/%d", iip.Spec.InstanceIPAddress, prefix.Bits())}
		if !subnet.Spec.DisableDefaultGateway {
			ip.Gateway = subnet.Spec.DefaultGateway
		}
		itf.IPs = append(itf.IPs, ip)
	}
	if len(itf.IPs) == 0 {
		return itf, "no InstanceIP of " + st.Interface + " yet", nil
	}
	return itf, "", nil
}

// routeDefault gives an interface network-status marks default (kubemanager
// resolved the pod's selection: eth0, or the element with default-route)
// the default route, through the gateways kubemanager recorded for it
// (checked against its subnets there), or else through its subnets'.
func routeDefault(itf *agentapi.Interface, st nadv1.NetworkStatus) *agentapi.Error {
	itf.DefaultRoute = st.Default
	for _, text := range st.Gateway {
		gw, err := netip.ParseAddr(text)
		if err != nil {
			return &agentapi.Error{Code: agentapi.CodeInvalidConfig, Message: fmt.Sprintf("network-status of %s: gateway %q is not an IP address", st.Interface, text)}
		}
		found := false
		for j, ip := range itf.IPs {
			if p, err := netip.ParsePrefix(ip.Address); err == nil && p.Masked().Contains(gw) {
				itf.IPs[j].Gateway, found = gw.String(), true
			}
		}
		if !found {
			return &agentapi.Error{Code: agentapi.CodeInvalidConfig, Message: fmt.Sprintf("network-status of %s: gateway %s is in none of its subnets", st.Interface, gw)}
		}
	}
	return nil
}

// verifyPorts accepts the ports of one container only as the control plane
// describes its pod's interfaces (what try answers the plugin): each
// port's host end is the one named after its container and interface
// (agentapi.HostIfName), a veth on this node, and its interface, VMI,
// network, MAC and addresses are those of the pod's VMI and InstanceIPs.
// A port the control plane does not back is refused: it would put a link
// on a bridge, or publish a MAC and addresses to every other node.
func (r *resolver) verifyPorts(ctx context.Context, ports []agentapi.Port) *agentapi.Error {
	forbidden := func(format string, args ...any) *agentapi.Error {
		return &agentapi.Error{Code: agentapi.CodeForbidden, Message: fmt.Sprintf(format, args...)}
	}
	first := ports[0]
	want, wait, err := r.try(ctx, agentapi.InterfacesRequest{PodNamespace: first.PodNamespace, PodName: first.PodName, PodUID: first.PodUID})
	if err != nil {
		return forbidden("ports of pod %s/%s: %s", first.PodNamespace, first.PodName, err.Message)
	}
	if want == nil {
		return forbidden("ports of pod %s/%s: the control plane does not describe its interfaces: %s", first.PodNamespace, first.PodName, wait.reason)
	}
	byName := map[string]agentapi.Interface{}
	for _, itf := range want.Interfaces {
		byName[itf.Name] = itf
	}
	for _, p := range ports {
		if p.PodNamespace != first.PodNamespace || p.PodName != first.PodName || p.PodUID != first.PodUID {
			return forbidden("ports of one container name two pods: %s/%s and %s/%s", first.PodNamespace, first.PodName, p.PodNamespace, p.PodName)
		}
		itf, ok := byName[p.IfName]
		if !ok {
			return forbidden("pod %s/%s has no interface %s", p.PodNamespace, p.PodName, p.IfName)
		}
		if host := agentapi.HostIfName(p.ContainerID, p.IfName); p.HostIfName != host {
			return forbidden("interface %s of container %s: host end %q is not its own (%s)", p.IfName, p.ContainerID, p.HostIfName, host)
		}
		if p.VMI != itf.VMI || p.Network != itf.Network {
			return forbidden("interface %s of pod %s/%s: VMI %s on %s, not %s on %s", p.IfName, p.PodNamespace, p.PodName, itf.VMI, itf.Network, p.VMI, p.Network)
		}
		if !strings.EqualFold(p.MAC, itf.MAC) {
			return forbidden("interface %s of pod %s/%s: MAC %s is not its VMI's %s", p.IfName, p.PodNamespace, p.PodName, p.MAC, itf.MAC)
		}
		var addrs []string
		for _, ip := range itf.IPs {
			addr, _, _ := strings.Cut(ip.Address, "/")
			addrs = append(addrs, addr)
		}
		if !sameSet(p.IPs, addrs) {
			return forbidden("interface %s of pod %s/%s: addresses %v are not its InstanceIPs' %v", p.IfName, p.PodNamespace, p.PodName, p.IPs, addrs)
		}
		link, lerr := netlink.LinkByName(p.HostIfName)
		if lerr != nil {
			return forbidden("interface %s of pod %s/%s: no host end %s on this node: %v", p.IfName, p.PodNamespace, p.PodName, p.HostIfName, lerr)
		}
		if link.Type() != "veth" {
			return forbidden("interface %s of pod %s/%s: %s is a %s, not a pod's veth", p.IfName, p.PodNamespace, p.PodName, p.HostIfName, link.Type())
		}
		if len(p.HostPorts) > 0 {
			// The node's traffic goes where the pod's spec says alone.
			pod := &corev1.Pod{}
			if err := r.cache.Get(ctx, client.ObjectKey{Namespace: p.PodNamespace, Name: p.PodName}, pod); err != nil {
				return forbidden("interface %s of pod %s/%s: the pod's host ports cannot be checked: %v", p.IfName, p.PodNamespace, p.PodName, err)
			}
			if p.PodUID != "" && string(pod.UID) != p.PodUID {
				return forbidden("interface %s of pod %s/%s: the pod has UID %s, not %s", p.IfName, p.PodNamespace, p.PodName, pod.UID, p.PodUID)
			}
			if why := undeclaredHostPort(p, pod); why != "" {
				return forbidden("interface %s of pod %s/%s: %s", p.IfName, p.PodNamespace, p.PodName, why)
			}
		}
	}
	return nil
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		if seen[x] == 0 {
			return false
		}
		seen[x]--
	}
	return true
}

func internal(err error) *agentapi.Error {
	return &agentapi.Error{Code: agentapi.CodeInternal, Message: err.Error()}
}
