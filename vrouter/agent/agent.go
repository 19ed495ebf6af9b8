package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
	"github.com/kontrail/kontrail/cni/agentapi"
	"github.com/kontrail/kontrail/vrouter/dataplane"
)

// Agent is the vrouter agent of one node.
type Agent struct {
	cfg    Config
	cache  cache.Cache
	client client.Client
	api    client.Reader
	ports  *PortStore
	// portsProblem says why the port store started empty (a corrupt file).
	portsProblem string
	resolver     *resolver
	metrics      *metrics

	fabricIP   net.IP
	fabricLink string
	mtu        int

	reconcileMu sync.Mutex
	kick        chan struct{}
	// reconciles are the reconciles the plugin's ADDs and the loop ask
	// for: those asked during one share the next (rounds).
	reconciles *rounds[reconciled]

	// pending are the host ends of interfaces the plugin was told about
	// and may be making now, until when: the reconcile must not remove
	// them as unknown before the plugin reports them.
	pendingMu sync.Mutex
	pending   map[string]time.Time

	// lastUsed is when a network last had a port on the node (under reconcileMu).
	lastUsed map[string]time.Time

	// routerNS is the network namespace of the node's router between
	// networks (dataplane.Router), held for the agent's life.
	routerNS ns.NetNS

	readyMu     sync.Mutex
	readyReason string
}

// CacheOptions limit the agent's cache to what its node needs: its own
// pods; networks, subnets and VirtualRouters are few and watched whole;
// interfaces and addresses are watched whole too (a pod's are made before
// it is scheduled, so they carry no node), without their managed fields.
func CacheOptions(node string) cache.Options {
	return cache.Options{DefaultTransform: cache.TransformStripManagedFields(), ByObject: map[client.Object]cache.ByObject{
		&corev1.Pod{}: {Field: fields.OneTermEqualSelector("spec.nodeName", node)},
	}}
}

// New makes the agent of cfg.NodeName and adds it to mgr.
func New(mgr manager.Manager, cfg Config) (*Agent, error) {
	if cfg.NodeName == "" {
		return nil, errors.New("the node name is unknown: set --node-name or NODE_NAME")
	}
	ports, portsProblem, err := OpenPortStore(filepath.Join(cfg.StateDir, cfg.NodeName, "ports.json"))
	if err != nil {
		return nil, err
	}
	a := &Agent{cfg: cfg, cache: mgr.GetCache(), client: mgr.GetClient(), api: mgr.GetAPIReader(), ports: ports, portsProblem: portsProblem, metrics: newMetrics(),
		kick: make(chan struct{}, 1), readyReason: "starting", pending: map[string]time.Time{}, lastUsed: map[string]time.Time{}}
	a.reconciles = newRounds(func(ctx context.Context) reconciled {
		state, err := a.reconcile(ctx)
		return reconciled{state: state, err: err}
	})
	if err := indexByPodUID(context.Background(), mgr.GetFieldIndexer()); err != nil {
		return nil, err
	}
	a.resolver = &resolver{node: cfg.NodeName, cache: mgr.GetClient(), podChanged: newSignals(),
		poll: 250 * time.Millisecond, failureGrace: 5 * time.Second}
	if err := mgr.Add(a); err != nil {
		return nil, err
	}
	// A state or socket directory removed on the host beneath the agent
	// fails every later ADD: liveness restarts the container (a new
	// mount of the node's directory), readiness says why meanwhile.
	dirs := func(*http.Request) error {
		return errors.Join(StateDirProblem(cfg.StateDir), StateDirProblem(cfg.SocketDir))
	}
	if err := mgr.AddHealthzCheck("state-dirs", dirs); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("state-dirs", dirs); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("dataplane", func(*http.Request) error {
		if ok, why := a.isReady(); !ok {
			return errors.New(why)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return a, nil
}

// Start runs the agent until ctx ends: it finds the fabric, registers the
// node's VirtualRouter, installs the CNI plugin, serves the plugin, and
// reconciles the dataplane on every change and every resync.
func (a *Agent) Start(ctx context.Context) error {
	logger := log.FromContext(ctx).WithName("vrouter-agent").WithValues("node", a.cfg.NodeName)
	ctx = log.IntoContext(ctx, logger)
	if err := a.findFabric(ctx); err != nil {
		return err
	}
	a.resolver.mtu = a.mtu
	if err := a.register(ctx); err != nil {
		return err
	}
	routerNS, err := dataplane.NewRouterNS()
	if err != nil {
		return err
	}
	a.routerNS = routerNS
	defer a.routerNS.Close()
	for _, obj := range []client.Object{&corev1alpha1.VirtualRouter{}, &corev1alpha1.VirtualNetwork{}, &corev1alpha1.Subnet{},
		&corev1alpha1.RoutingInstance{}} {
		if err := a.watch(ctx, obj); err != nil {
			return err
		}
	}
	if err := a.watchPods(ctx); err != nil {
		return err
	}
	if err := a.restorePorts(ctx); err != nil {
		return err
	}
	if err := agentapi.PrepareSocketDir(a.cfg.SocketDir); err != nil {
		return err
	}
	socket, err := agentapi.SocketPath(a.cfg.SocketDir)
	if err != nil {
		return err
	}
	l, err := agentapi.Listen(socket)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- (&server{agent: a}).serve(ctx, l) }()
	// The conflist comes last: once it exists the runtime calls the
	// plugin, and the socket must answer.
	if a.cfg.InstallCNI {
		if err := a.installCNI(); err != nil {
			return err
		}
	}
	a.setReady("")
	logger.Info("serving the CNI plugin", "socket", socket, "fabric", a.fabricLink, "address", a.fabricIP.String(), "mtu", a.mtu)

	resync := time.NewTicker(time.Duration(max(a.cfg.ResyncSeconds, 1)) * time.Second)
	defer resync.Stop()
	a.trigger()
	for {
		select {
		case <-ctx.Done():
			return <-errc
		case err := <-errc:
			return fmt.Errorf("the CNI socket stopped serving: %w", err)
		case <-a.kick:
		case <-resync.C:
		}
		// Shared with the ADDs that come meanwhile.
		if out, _ := a.reconciles.do(ctx); out.err != nil {
			logger.Error(out.err, "failed to program the dataplane; retrying at the next change or resync")
		}
	}
}

// restorePorts makes the port store agree with the node's host ends
// before anything is reconciled: ports of host ends the store does not
// know (its file lost, corrupt or old) are read back from their aliases
// and the pod's objects, and the store's ports get their alias (written
// by an agent before aliases were). A running pod is never unplugged
// because a file went.
func (a *Agent) restorePorts(ctx context.Context) error {
	logger := log.FromContext(ctx)
	if a.portsProblem != "" {
		logger.Info(a.portsProblem)
	}
	if !a.cache.WaitForCacheSync(ctx) {
		return errors.New("the cache did not sync")
	}
	restored, err := portsFromKernel(ctx, a.client, a.ports.Known)
	if err != nil {
		return fmt.Errorf("failed to read the ports back from the node's interfaces: %w", err)
	}
	if err := a.ports.Restore(restored); err != nil {
		return err
	}
	for _, p := range restored {
		logger.Info("port read back from its host end", "container", p.ContainerID, "interface", p.IfName, "hostInterface", p.HostIfName, "network", p.Network)
	}
	for _, p := range a.ports.List() {
		if err := labelPorts([]agentapi.Port{p}); err != nil {
			logger.Info("a port's host end is not labelled", "port", p.HostIfName, "reason", err.Error())
		}
	}
	return nil
}

// trigger asks for a reconcile, without blocking.
func (a *Agent) trigger() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

func (a *Agent) watch(ctx context.Context, obj client.Object) error {
	informer, err := a.cache.GetInformer(ctx, obj)
	if err != nil {
		return fmt.Errorf("failed to watch %T: %w", obj, err)
	}
	_, err = informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { a.trigger() },
		UpdateFunc: func(old, obj any) {
			if !a.ownStatusWrite(old, obj) {
				a.trigger()
			}
		},
		DeleteFunc: func(any) { a.trigger() },
	})
	return err
}

// ownStatusWrite says whether an update is of this node's VirtualRouter's
// status alone: the endpoints and state the reconcile itself published,
// which need no reconcile (each would cost one more round per round). A
// status someone else changed is written again at the next resync.
func (a *Agent) ownStatusWrite(old, obj any) bool {
	before, ok := old.(*corev1alpha1.VirtualRouter)
	after, ok2 := obj.(*corev1alpha1.VirtualRouter)
	return ok && ok2 && after.Name == a.cfg.NodeName && before.Generation == after.Generation &&
		equality.Semantic.DeepEqual(before.ObjectMeta.Labels, after.ObjectMeta.Labels) &&
		equality.Semantic.DeepEqual(before.ObjectMeta.Annotations, after.ObjectMeta.Annotations)
}

// watchPods wakes the plugin's waits when their pod, or one of its
// interfaces or addresses, changes: the pod's network-status and the
// allocations it reports reach the cache by different watches, in either
// order.
func (a *Agent) watchPods(ctx context.Context) error {
	notify := func(obj any) {
		o, ok := obj.(client.Object)
		if !ok {
			return
		}
		key := types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}
		if _, isPod := o.(*corev1.Pod); !isPod {
			ns, name, ok := cutNamespace(o.GetAnnotations()[annotationPod])
			if !ok {
				return
			}
			key = types.NamespacedName{Namespace: ns, Name: name}
		}
		a.resolver.podChanged.notify(key)
	}
	for _, obj := range []client.Object{&corev1.Pod{}, &corev1alpha1.VirtualMachineInterface{}, &corev1alpha1.InstanceIP{}} {
		informer, err := a.cache.GetInformer(ctx, obj)
		if err != nil {
			return fmt.Errorf("failed to watch %T: %w", obj, err)
		}
		if _, err := informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    notify,
			UpdateFunc: func(_, obj any) { notify(obj) },
		}); err != nil {
			return err
		}
	}
	return nil
}

// findFabric picks the overlay's interface and address: --fabric-interface,
// else the interface holding the node's InternalIP.
func (a *Agent) findFabric(ctx context.Context) error {
	var want netip.Addr
	if a.cfg.FabricInterface == "" {
		node := &corev1.Node{}
		if err := a.api.Get(ctx, client.ObjectKey{Name: a.cfg.NodeName}, node); err != nil {
			return fmt.Errorf("failed to get node %s: %w", a.cfg.NodeName, err)
		}
		for _, addr := range node.Status.Addresses {
			if addr.Type == corev1.NodeInternalIP {
				if ip, err := netip.ParseAddr(addr.Address); err == nil && ip.Is4() {
					want = ip
				}
			}
		}
		if !want.IsValid() {
			return fmt.Errorf("node %s has no IPv4 InternalIP: set the Vrouter's agent.virtualHostInterface.physicalInterface", a.cfg.NodeName)
		}
	}
	links, err := netlink.LinkList()
	if err != nil {
		return err
	}
	for _, l := range links {
		if a.cfg.FabricInterface != "" && l.Attrs().Name != a.cfg.FabricInterface {
			continue
		}
		addrs, err := netlink.AddrList(l, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		for _, addr := range addrs {
			ip, _ := netip.AddrFromSlice(addr.IP.To4())
			if a.cfg.FabricInterface != "" || ip == want {
				a.fabricLink, a.fabricIP = l.Attrs().Name, addr.IP.To4()
				a.mtu = a.cfg.CNIMTU
				if a.mtu == 0 {
					a.mtu = l.Attrs().MTU - 50 // VXLAN over IPv4 adds 50 bytes
				}
				return nil
			}
		}
	}
	if a.cfg.FabricInterface != "" {
		return fmt.Errorf("fabric interface %s not found or has no IPv4 address", a.cfg.FabricInterface)
	}
	return fmt.Errorf("no interface holds node %s's InternalIP %s", a.cfg.NodeName, want)
}

// register makes or updates the node's VirtualRouter.
func (a *Agent) register(ctx context.Context) error {
	vr := &corev1alpha1.VirtualRouter{ObjectMeta: metav1.ObjectMeta{Name: a.cfg.NodeName}}
	err := a.api.Get(ctx, client.ObjectKeyFromObject(vr), vr)
	switch {
	case apierrors.IsNotFound(err):
		vr.Spec.VirtualRouterIPAddress = a.fabricIP.String()
		if err := a.client.Create(ctx, vr); err != nil {
			return fmt.Errorf("failed to register VirtualRouter %s: %w", vr.Name, err)
		}
	case err != nil:
		return fmt.Errorf("failed to get VirtualRouter %s: %w", vr.Name, err)
	case vr.Spec.VirtualRouterIPAddress != a.fabricIP.String():
		before := vr.DeepCopy()
		vr.Spec.VirtualRouterIPAddress = a.fabricIP.String()
		if err := a.client.Patch(ctx, vr, client.MergeFrom(before)); err != nil {
			return fmt.Errorf("failed to update VirtualRouter %s: %w", vr.Name, err)
		}
	}
	return nil
}

// reconciled is a reconcile's outcome.
type reconciled struct {
	state dataplane.State
	err   error
}

// reconcile programs the dataplane for the node's ports and the remote
// endpoints of their networks, and publishes the node's endpoints.
func (a *Agent) reconcile(ctx context.Context) (dataplane.State, error) {
	start := time.Now()
	a.reconcileMu.Lock()
	defer a.reconcileMu.Unlock()
	defer func() { a.metrics.programSeconds.Observe(time.Since(start).Seconds()) }()

	t0 := time.Now()
	a.forgetVanishedPorts(ctx)
	ports := a.ports.List()
	a.metrics.ports.Set(float64(len(ports)))
	t1 := time.Now()
	state, problems := a.desired(ctx, ports)
	t2 := time.Now()
	err := errors.Join(append(problems, dataplane.Reconcile(state))...)
	t3 := time.Now()
	if perr := a.publish(ctx, ports, err); perr != nil {
		err = errors.Join(err, perr)
	}
	log.FromContext(ctx).V(1).Info("reconciled", "lock", t0.Sub(start).Seconds(), "forget", t1.Sub(t0).Seconds(), "desired", t2.Sub(t1).Seconds(),
		"dataplane", t3.Sub(t2).Seconds(), "publish", time.Since(t3).Seconds())
	if err != nil {
		a.metrics.errors.WithLabelValues("dataplane").Inc()
	}
	return state, err
}

// attached says why a port's host end is not up on its network's bridge,
// or "" when it is.
func attached(state dataplane.State, p agentapi.Port) string {
	for _, n := range state.Networks {
		if n.Name != p.Network {
			continue
		}
		link, err := netlink.LinkByName(p.HostIfName)
		if err != nil {
			return err.Error()
		}
		br, err := netlink.LinkByName(dataplane.BridgeName(n.VNI))
		if err != nil {
			return "bridge " + dataplane.BridgeName(n.VNI) + ": " + err.Error()
		}
		if link.Attrs().MasterIndex != br.Attrs().Index {
			return fmt.Sprintf("it is on link %d, not on bridge %s (%d)", link.Attrs().MasterIndex, br.Attrs().Name, br.Attrs().Index)
		}
		if link.Attrs().Flags&net.FlagUp == 0 {
			return "it is down"
		}
		return ""
	}
	return "the network is not programmed on the node"
}

// forgetVanishedPorts drops ports whose host end is gone: the pod's
// network namespace was destroyed and a DEL did not reach the agent, or
// someone deleted the interface. Only that port: the pod's others stay.
func (a *Agent) forgetVanishedPorts(ctx context.Context) {
	for _, p := range a.ports.List() {
		if _, err := netlink.LinkByName(p.HostIfName); err != nil {
			var notFound netlink.LinkNotFoundError
			if errors.As(err, &notFound) {
				log.FromContext(ctx).Info("forgetting a port whose interface is gone", "container", p.ContainerID, "interface", p.IfName)
				_ = a.ports.DeletePort(p.ContainerID, p.IfName)
			}
		}
	}
}

// guardOf is what a port may send: its MAC and addresses, which the agent
// accepted only as the control plane gave them (verifyPorts).
func guardOf(p agentapi.Port) (dataplane.Guard, error) {
	mac, err := net.ParseMAC(p.MAC)
	if err != nil {
		return dataplane.Guard{}, fmt.Errorf("port %s: MAC %q: %w", p.HostIfName, p.MAC, err)
	}
	g := dataplane.Guard{Port: p.HostIfName, MAC: mac}
	for _, text := range p.IPs {
		ip := net.ParseIP(text)
		if ip == nil {
			return dataplane.Guard{}, fmt.Errorf("port %s: address %q is not an IP address", p.HostIfName, text)
		}
		g.IPs = append(g.IPs, ip)
	}
	return g, nil
}

// desired computes the dataplane's state; networks it cannot describe
// (not found, no VNI yet) are left out and reported.
func (a *Agent) desired(ctx context.Context, ports []agentapi.Port) (dataplane.State, []error) {
	state := dataplane.State{FabricIP: a.fabricIP, FabricLink: a.fabricLink, VxlanPort: a.cfg.VxlanPort, MTU: a.mtu, Keep: a.pendingPorts(),
		StillWanted: a.stillWanted}
	var problems []error
	byNetwork := map[string][]string{}
	for _, p := range ports {
		byNetwork[p.Network] = append(byNetwork[p.Network], p.HostIfName)
		a.lastUsed[p.Network] = time.Now()
		guard, err := guardOf(p)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		state.Guards = append(state.Guards, guard)
		state.HostPorts = append(state.HostPorts, forwards(p)...)
	}
	idle := time.Duration(a.cfg.IdleNetworkSeconds) * time.Second
	for n, used := range a.lastUsed {
		switch _, inUse := byNetwork[n]; {
		case inUse:
		case time.Since(used) < idle:
			byNetwork[n] = nil // kept, without ports, for the pods that come back
		default:
			delete(a.lastUsed, n)
		}
	}
	// The pod network is the cluster's network: every node routes it, so
	// that the node reaches every pod (and routes for them), with pods of
	// its own on it or not. It is left out only while its VirtualNetwork
	// does not exist (below).
	if pod := a.cfg.PodNetworkName(); byNetwork[pod] == nil {
		byNetwork[pod] = nil
	}
	var routers corev1alpha1.VirtualRouterList
	if err := a.client.List(ctx, &routers); err != nil {
		return state, append(problems, err)
	}
	names := make([]string, 0, len(byNetwork))
	for n := range byNetwork {
		names = append(names, n)
	}
	routed, err := a.routedNetworks(ctx, names)
	if err != nil {
		problems = append(problems, err)
	}
	for n := range routed {
		if _, local := byNetwork[n]; !local {
			names = append(names, n) // imported by a local network: its bridge carries the routed packets
		}
	}
	sort.Strings(names)
	created := map[string]time.Time{}
	for _, name := range names {
		ns, vnName, _ := cutNamespace(name)
		vn := &corev1alpha1.VirtualNetwork{}
		if err := a.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: vnName}, vn); err != nil {
			if _, local := byNetwork[name]; !local {
				continue // only imported: nothing to report here
			}
			if apierrors.IsNotFound(err) && len(byNetwork[name]) == 0 {
				// An idle network whose VirtualNetwork is gone: nothing
				// comes back to it, its devices go now (they are not in the state).
				delete(a.lastUsed, name)
				continue
			}
			problems = append(problems, fmt.Errorf("network %s: %w", name, err))
			continue
		}
		if vn.Status.VirtualNetworkNetworkID == 0 {
			if len(byNetwork[name]) > 0 || name != a.cfg.PodNetworkName() {
				problems = append(problems, fmt.Errorf("network %s has no network id yet", name))
			}
			continue
		}
		n := dataplane.Network{Name: name, VNI: uint32(vn.Status.VirtualNetworkNetworkID), Ports: byNetwork[name]}
		if name == a.cfg.PodNetworkName() {
			n.Gateways = a.gateways(ctx, vn)
			n.FabricSNAT = vn.Spec.FabricSNAT
		}
		if vn.Spec.FabricForwarding {
			// Routed on the fabric: the node routes it, as the pod network
			// (its gateways on the bridge), and SNAT never applies.
			n.FabricForwarding, n.FabricSNAT = true, false
			n.Gateways = a.gateways(ctx, vn)
		}
		for _, vr := range routers.Items {
			if vr.Name == a.cfg.NodeName {
				continue
			}
			nodeIP := net.ParseIP(vr.Spec.VirtualRouterIPAddress)
			for _, e := range vr.Status.Endpoints {
				mac, err := net.ParseMAC(e.MAC)
				if e.Network != name || err != nil || nodeIP == nil {
					continue
				}
				r := dataplane.Remote{MAC: mac, NodeIP: nodeIP}
				for _, a := range e.IPs {
					if ip := net.ParseIP(a); ip != nil {
						r.IPs = append(r.IPs, ip)
					}
				}
				n.Remotes = append(n.Remotes, r)
			}
		}
		state.Networks = append(state.Networks, n)
		created[name] = vn.CreationTimestamp.Time
	}
	networks, clashes := oneNetworkPerVNI(state.Networks, created)
	state.Networks = networks
	problems = append(problems, clashes...)
	if a.routerNS != nil {
		// Always, with no routed network too: the router's rules go then.
		state.Router = a.router(ctx, state, routed, ports, routers.Items)
	}
	return state, problems
}

// gateways are the default pod network's gateways with their prefix
// length, put on its bridge so that the node reaches its pods.
func (a *Agent) gateways(ctx context.Context, vn *corev1alpha1.VirtualNetwork) []string {
	var out []string
	for _, ref := range []*corev1alpha1.ResourceReference{vn.Spec.V4SubnetReference, vn.Spec.V6SubnetReference} {
		if ref == nil {
			continue
		}
		subnet := &corev1alpha1.Subnet{}
		if err := a.client.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, subnet); err != nil {
			continue
		}
		prefix, err := netip.ParsePrefix(subnet.Spec.CIDR)
		if err != nil || subnet.Spec.DefaultGateway == "" || subnet.Spec.DisableDefaultGateway {
			continue
		}
		out = append(out, fmt.Sprintf("%s/%d", subnet.Spec.DefaultGateway, prefix.Bits()))
	}
	return out
}

// publish writes the node's endpoints into its VirtualRouter's status.
// The VirtualRouter's Ready condition, which the agent owns: its STATE
// column says whether the node's dataplane is programmed.
const (
	conditionReady          = "Ready"
	reasonProgrammed        = "Programmed"
	reasonProgrammingFailed = "ProgrammingFailed"
)

// publish writes the node's endpoints and the outcome of the last
// programming (programErr) into its VirtualRouter's status.
func (a *Agent) publish(ctx context.Context, ports []agentapi.Port, programErr error) error {
	endpoints := make([]corev1alpha1.Endpoint, 0, len(ports))
	for _, p := range ports {
		endpoints = append(endpoints, corev1alpha1.Endpoint{Network: p.Network, VirtualMachineInterface: p.VMI, MAC: p.MAC, IPs: p.IPs})
	}
	vr := &corev1alpha1.VirtualRouter{}
	if err := a.client.Get(ctx, client.ObjectKey{Name: a.cfg.NodeName}, vr); err != nil {
		if apierrors.IsNotFound(err) {
			return a.register(ctx) // deleted behind the agent's back: made again, endpoints next time
		}
		return err
	}
	before := vr.DeepCopy()
	if !(len(vr.Status.Endpoints) == 0 && len(endpoints) == 0) {
		vr.Status.Endpoints = endpoints
	}
	state, condition, reason, observation := corev1alpha1.StateSuccess, metav1.ConditionTrue, reasonProgrammed, ""
	message := "the node's dataplane is programmed for its pods"
	if programErr != nil {
		state, condition, reason = corev1alpha1.StateFailure, metav1.ConditionFalse, reasonProgrammingFailed
		observation = programErr.Error()
		message = observation
	}
	vr.Status.State, vr.Status.Observation, vr.Status.ObservedGeneration = state, observation, vr.Generation
	meta.SetStatusCondition(&vr.Status.Conditions, metav1.Condition{Type: conditionReady, Status: condition, Reason: reason,
		Message: message, ObservedGeneration: vr.Generation})
	if equality.Semantic.DeepEqual(before.Status, vr.Status) {
		return nil
	}
	if err := a.client.Status().Patch(ctx, vr, client.MergeFrom(before)); err != nil {
		return fmt.Errorf("failed to publish the status of VirtualRouter %s: %w", vr.Name, err)
	}
	return nil
}

// stillWanted says whether a host end is pending or a known port now.
// The plugin's report adds the port before it settles the pending name,
// so asking in this order never misses one that is in between.
func (a *Agent) stillWanted(name string) bool {
	if slices.Contains(a.pendingPorts(), name) {
		return true
	}
	return slices.ContainsFunc(a.ports.List(), func(p agentapi.Port) bool { return p.HostIfName == name })
}

// expectPorts notes the host ends the plugin is about to make.
func (a *Agent) expectPorts(containerID string, itfs []agentapi.Interface, ttl time.Duration) {
	a.pendingMu.Lock()
	defer a.pendingMu.Unlock()
	for _, itf := range itfs {
		a.pending[agentapi.HostIfName(containerID, itf.Name)] = time.Now().Add(ttl)
	}
}

// settlePorts ends the wait for host ends (reported, or deleted).
func (a *Agent) settlePorts(names ...string) {
	a.pendingMu.Lock()
	defer a.pendingMu.Unlock()
	for _, n := range names {
		delete(a.pending, n)
	}
}

func (a *Agent) pendingPorts() []string {
	a.pendingMu.Lock()
	defer a.pendingMu.Unlock()
	var out []string
	for name, until := range a.pending {
		if time.Now().After(until) {
			delete(a.pending, name) // the plugin died between the question and the report
			continue
		}
		out = append(out, name)
	}
	return out
}

func (a *Agent) isReady() (bool, string) {
	a.readyMu.Lock()
	defer a.readyMu.Unlock()
	return a.readyReason == "", a.readyReason
}

func (a *Agent) setReady(reason string) {
	a.readyMu.Lock()
	defer a.readyMu.Unlock()
	a.readyReason = reason
}

func cutNamespace(s string) (string, string, bool) { return strings.Cut(s, "/") }

// oneNetworkPerVNI keeps one network per VNI: two networks with one VNI
// would share a bridge and a VXLAN device, and each would reach the
// other's pods. The older network (by its VirtualNetwork's creation) keeps
// the VNI; each other one is left unprogrammed and said, until the VNIs
// differ. The controller's Allocations make this impossible in a working
// cluster; a VirtualNetwork's status written by hand, or restored from an
// old backup, is not.
func oneNetworkPerVNI(networks []dataplane.Network, created map[string]time.Time) ([]dataplane.Network, []error) {
	order := make([]int, len(networks))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool {
		a, b := networks[order[i]], networks[order[j]]
		if !created[a.Name].Equal(created[b.Name]) {
			return created[a.Name].Before(created[b.Name])
		}
		return a.Name < b.Name
	})
	owner := map[uint32]string{}
	drop := map[int]bool{}
	var problems []error
	for _, i := range order {
		n := networks[i]
		if first, ok := owner[n.VNI]; ok {
			drop[i] = true
			problems = append(problems, fmt.Errorf("networks %s and %s both have VNI %d: %s is not programmed on this node until their VNIs differ", first, n.Name, n.VNI, n.Name))
			continue
		}
		owner[n.VNI] = n.Name
	}
	kept := networks[:0:0]
	for i, n := range networks {
		if !drop[i] {
			kept = append(kept, n)
		}
	}
	return kept, problems
}
