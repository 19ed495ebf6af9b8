package chaos

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

// The watchers see every change of the suite's pods and of the objects
// that hold addresses, MACs and VNIs as the apiserver publishes it, so
// that invariants 1 and 3 are checked at every moment, not only after a
// cycle: a pod's network-status against the one it had when it first ran,
// and every pod's against every other's; an InstanceIP's address, a
// VirtualMachineInterface's MAC and a VirtualNetwork's VNI for as long as
// the object lives, and against every other live object's.

const (
	// annotationAllocated records what the controller allocated for an
	// InstanceIP ("<subnet ns>/<subnet>/<address>") or a VMI (the MAC).
	annotationAllocated = "controller.kontrail.juniper.net/allocated"
	annotationPod       = "kube-manager.juniper.net/pod"
	labelPodUID         = "kube-manager.juniper.net/pod-uid"
	annotationFailure   = "juniper.net/networks-status"
)

var coreGroup = "core.contrail.juniper.net"

func gvr(resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: coreGroup, Version: "v1alpha1", Resource: resource}
}

// podTrack is what the suite knows of one pod (by UID).
type podTrack struct {
	uid       types.UID
	name      string
	node      string
	running   bool
	runningAt time.Time
	// baseline is the network-status the pod had when it was first seen
	// Running: the addresses and MACs it must keep for its whole life.
	baseline      []nadv1.NetworkStatus
	baselineCycle int
	deleted       bool
}

func (p *podTrack) describe() string {
	return fmt.Sprintf("%s/%s (uid %s, node %s)", ns, p.name, p.uid, p.node)
}

// watchers holds the informers and what they learnt.
type watchers struct {
	mu     sync.Mutex
	cancel context.CancelFunc
	pods   map[types.UID]*podTrack
	store  cache.Store
	// objects: first allocation each live object was seen holding.
	held map[string]string // kind/uid -> value
	// stores of the object informers, by kind.
	objStores map[string]cache.Store
	errors    atomic.Int64
}

var theWatchers *watchers

// startWatchers starts the pod and object informers on the lab and waits
// until their caches are filled.
func startWatchers() error {
	config, err := clientcmd.BuildConfigFromFlags("", theLab.Kubeconfig())
	if err != nil {
		return err
	}
	config.WarningHandler = rest.NoWarnings{}
	w := &watchers{pods: map[types.UID]*podTrack{}, held: map[string]string{}, objStores: map[string]cache.Store{}}
	// The informers retry on their own through the apiserver's and etcd's
	// restarts; their errors are counted, not printed.
	utilruntime.ErrorHandlers = []utilruntime.ErrorHandler{func(context.Context, error, string, ...interface{}) { w.errors.Add(1) }}
	clientset, err := kubernetes.NewForConfig(config)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(config)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel

	podFactory := informers.NewSharedInformerFactoryWithOptions(clientset, 0, informers.WithNamespace(ns))
	podInformer := podFactory.Core().V1().Pods().Informer()
	w.store = podInformer.GetStore()
	if _, err := podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { w.onPod(obj) },
		UpdateFunc: func(_, obj any) { w.onPod(obj) },
		DeleteFunc: func(obj any) { w.onPodDeleted(obj) },
	}); err != nil {
		cancel()
		return err
	}
	dynFactory := dynamicinformer.NewDynamicSharedInformerFactory(dyn, 0)
	var synced []cache.InformerSynced
	for _, kind := range []string{"instanceips", "virtualmachineinterfaces", "virtualnetworks"} {
		inf := dynFactory.ForResource(gvr(kind)).Informer()
		w.objStores[kind] = inf.GetStore()
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { w.onObject(kind, obj) },
			UpdateFunc: func(_, obj any) { w.onObject(kind, obj) },
			DeleteFunc: func(obj any) { w.onObjectDeleted(kind, obj) },
		}); err != nil {
			cancel()
			return err
		}
		synced = append(synced, inf.HasSynced)
	}
	podFactory.StartWithContext(ctx)
	dynFactory.Start(ctx.Done())
	synced = append(synced, podInformer.HasSynced)
	waitCtx, waitCancel := context.WithTimeout(ctx, 2*time.Minute)
	defer waitCancel()
	if !cache.WaitForCacheSync(waitCtx.Done(), synced...) {
		cancel()
		return fmt.Errorf("the watchers' caches did not sync in 2m (%d list/watch errors)", w.errors.Load())
	}
	theWatchers = w
	return nil
}

func stopWatchers() {
	if theWatchers != nil && theWatchers.cancel != nil {
		theWatchers.cancel()
	}
}

// onPod records a pod's state and checks invariants 1 and 3 against it.
func (w *watchers) onPod(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	now := time.Now()
	w.mu.Lock()
	t := w.pods[pod.UID]
	if t == nil {
		t = &podTrack{uid: pod.UID, name: pod.Name}
		w.pods[pod.UID] = t
		rec.mu.Lock()
		rec.podsSeen++
		rec.mu.Unlock()
	}
	t.node = pod.Spec.NodeName
	st, perr := parseStatus(pod.Annotations[nadv1.NetworkStatusAnnot])
	firstRun := false
	if pod.Status.Phase == corev1.PodRunning && !t.running {
		t.running, t.runningAt, t.baseline, t.baselineCycle = true, now, st, rec.currentCycle()
		firstRun = true
	}
	track := *t
	w.mu.Unlock()

	if firstRun && (len(st) == 0 || perr != nil) {
		rec.violate("inv1/nostatus/"+string(pod.UID), violation{Invariant: "1 (a running pod's network-status)", When: now, Pod: track.describe(),
			Expected: "a network-status naming its addresses and MACs once it runs",
			Seen:     fmt.Sprintf("Running without one (%v); %s: %q", perr, annotationFailure, pod.Annotations[annotationFailure])})
	}
	if track.running {
		compareBaseline(pod, st, &track, now)
	}
	w.checkPodDuplicates(now)
}

// compareBaseline checks invariant 1 on a pod's network-status: every
// network's entry as it was when the pod was first seen Running.
func compareBaseline(pod *corev1.Pod, st []nadv1.NetworkStatus, track *podTrack, now time.Time) {
	terminating := ""
	if pod.DeletionTimestamp != nil {
		terminating = " (terminating)"
	}
	for i := range track.baseline {
		first := &track.baseline[i]
		cur := statusOn(st, first.Name)
		if cur != nil && sameEntry(first, cur) {
			continue
		}
		seen := "network-status now " + describeEntry(cur)
		if len(st) == 0 {
			seen = fmt.Sprintf("network-status gone; %s: %q", annotationFailure, pod.Annotations[annotationFailure])
		}
		rec.violate("inv1/"+string(pod.UID)+"/"+first.Name+"/"+describeEntry(cur)+fmt.Sprint(len(st) == 0), violation{
			Invariant: "1 (a running pod keeps its addresses and MACs)", When: now, Pod: track.describe() + terminating, Network: first.Name,
			Expected: fmt.Sprintf("%s, as first seen Running in cycle %d at %s", describeEntry(first), track.baselineCycle, track.runningAt.Format("15:04:05")),
			Seen:     seen})
	}
}

// sameEntry: same interface, addresses and MAC.
func sameEntry(a, b *nadv1.NetworkStatus) bool {
	return a.Interface == b.Interface && strings.EqualFold(a.Mac, b.Mac) && strings.Join(a.IPs, ",") == strings.Join(b.IPs, ",")
}

// checkPodDuplicates checks invariant 3 on the pods' network-status as the
// informer holds them now: no address or MAC of one network on two pods.
func (w *watchers) checkPodDuplicates(now time.Time) {
	type holder struct{ uid, desc string }
	held := map[string][]holder{}
	for _, obj := range w.store.List() {
		pod := obj.(*corev1.Pod)
		st, err := parseStatus(pod.Annotations[nadv1.NetworkStatusAnnot])
		if err != nil {
			continue
		}
		desc := fmt.Sprintf("%s/%s (uid %s, node %s, %s)", pod.Namespace, pod.Name, pod.UID, pod.Spec.NodeName, pod.Status.Phase)
		for _, e := range st {
			for _, ip := range e.IPs {
				held[e.Name+"\x00address "+ip] = append(held[e.Name+"\x00address "+ip], holder{string(pod.UID), desc})
			}
			if e.Mac != "" {
				key := e.Name + "\x00MAC " + strings.ToLower(e.Mac)
				held[key] = append(held[key], holder{string(pod.UID), desc})
			}
		}
	}
	for key, hs := range held {
		if len(hs) < 2 {
			continue
		}
		network, what, _ := strings.Cut(key, "\x00")
		var uids, descs []string
		for _, h := range hs {
			uids = append(uids, h.uid)
			descs = append(descs, h.desc)
		}
		sort.Strings(uids)
		rec.violate("inv3/pods/"+key+"/"+strings.Join(uids, ","), violation{Invariant: "3 (no two pods share an address or MAC on a network)", When: now,
			Pod: strings.Join(descs, " and "), Network: network,
			Expected: what + " on one pod only", Seen: fmt.Sprintf("%s in the network-status of %d pods", what, len(hs))})
	}
}

func (w *watchers) onPodDeleted(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if t := w.pods[pod.UID]; t != nil && !t.deleted {
		t.deleted = true
		if t.running {
			rec.mu.Lock()
			rec.lifecycles++
			rec.mu.Unlock()
		}
	}
}

// runningPods are the pods the watcher knows are Running and not deleted.
func (w *watchers) track(uid types.UID) *podTrack {
	w.mu.Lock()
	defer w.mu.Unlock()
	if t := w.pods[uid]; t != nil {
		c := *t
		return &c
	}
	return nil
}

// allocation is what an object holds: a VNI, an address or a MAC, on a network.
type allocation struct {
	kind, name, network, value, pod string
	deleting                        bool
}

// allocationOf reads what a VirtualNetwork, InstanceIP or VMI holds.
func allocationOf(kind string, u *unstructured.Unstructured) (allocation, bool) {
	a := allocation{kind: kind, name: u.GetName(), pod: u.GetAnnotations()[annotationPod], deleting: u.GetDeletionTimestamp() != nil}
	if u.GetNamespace() != "" {
		a.name = u.GetNamespace() + "/" + u.GetName()
	}
	ref := func() string {
		n, _, _ := unstructured.NestedString(u.Object, "spec", "virtualNetworkReference", "name")
		nsn, _, _ := unstructured.NestedString(u.Object, "spec", "virtualNetworkReference", "namespace")
		if nsn == "" {
			nsn = u.GetNamespace()
		}
		return nsn + "/" + n
	}
	switch kind {
	case "virtualnetworks":
		vni, _, _ := unstructured.NestedInt64(u.Object, "status", "virtualNetworkNetworkId")
		if vni == 0 {
			return a, false
		}
		a.network, a.value = "all networks", fmt.Sprintf("VNI %d", vni)
	case "instanceips":
		addr, _, _ := unstructured.NestedString(u.Object, "spec", "instanceIPAddress")
		alloc := u.GetAnnotations()[annotationAllocated]
		if addr == "" || !strings.HasSuffix(alloc, "/"+addr) {
			return a, false // asks for an address, holds none
		}
		a.network, a.value = ref(), "address "+addr
	case "virtualmachineinterfaces":
		mac := u.GetAnnotations()[annotationAllocated]
		if mac == "" {
			return a, false
		}
		a.network, a.value = ref(), "MAC "+strings.ToLower(mac)
	}
	return a, true
}

var kindName = map[string]string{"instanceips": "InstanceIP", "virtualmachineinterfaces": "VirtualMachineInterface", "virtualnetworks": "VirtualNetwork"}

func (a allocation) describe(kind string) string {
	s := kindName[kind] + " " + a.name
	if a.pod != "" {
		s += " (pod " + a.pod + ")"
	}
	if a.deleting {
		s += " (being deleted)"
	}
	return s
}

// onObject checks that a live object keeps what it was first seen
// holding (invariant 1) and that no other live object holds the same on
// its network (invariant 3).
func (w *watchers) onObject(kind string, obj any) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	now := time.Now()
	a, holds := allocationOf(kind, u)
	key := kind + "/" + string(u.GetUID())
	w.mu.Lock()
	first, had := w.held[key]
	if holds && !had {
		w.held[key] = a.network + "\x00" + a.value
	}
	w.mu.Unlock()
	if had && !a.deleting {
		firstNet, firstValue, _ := strings.Cut(first, "\x00")
		now := a.network + "\x00" + a.value
		if !holds {
			now = "nothing (annotation " + annotationAllocated + " " + fmt.Sprintf("%q", u.GetAnnotations()[annotationAllocated]) + ")"
		}
		if now != first {
			seen := strings.Replace(now, "\x00", " on ", 1)
			rec.violate("inv1/object/"+key+"/"+seen, violation{Invariant: "1 (an object keeps what it holds until it is deleted)", Pod: a.describe(kind), Network: firstNet,
				Expected: firstValue + " on " + firstNet + ", as first seen", Seen: "it holds " + seen})
		}
	}
	if !holds || a.deleting {
		return
	}
	// Another live object holding the same on the same network.
	var others []string
	for _, o := range w.objStores[kind].List() {
		ou := o.(*unstructured.Unstructured)
		if ou.GetUID() == u.GetUID() {
			continue
		}
		b, ok := allocationOf(kind, ou)
		if ok && !b.deleting && b.network == a.network && b.value == a.value {
			others = append(others, b.describe(kind))
		}
	}
	if len(others) > 0 {
		sort.Strings(others)
		rec.violate("inv3/object/"+kind+"/"+a.network+"/"+a.value, violation{Invariant: "3 (no two live objects hold the same address, MAC or VNI)", When: now,
			Pod: a.describe(kind) + " and " + strings.Join(others, ", "), Network: a.network,
			Expected: a.value + " held by one object", Seen: fmt.Sprintf("held by %d live objects", len(others)+1)})
	}
}

func (w *watchers) onObjectDeleted(kind string, obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.held, kind+"/"+string(u.GetUID()))
}
