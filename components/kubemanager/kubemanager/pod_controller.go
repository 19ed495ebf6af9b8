package kubemanager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"strings"
	"sync"
	"time"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/source"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
)

// Annotations and labels kubemanager writes for pods.
const (
	// AnnotationVMUUID, on a pod, is the UID of its VirtualMachine.
	AnnotationVMUUID = corev1alpha1.AnnotationVMUUID
	// AnnotationAppliedNetworks, on a VirtualMachine, is the pod's networks
	// annotation its interfaces were made from: interfaces are not added or
	// removed on a running pod.
	AnnotationAppliedNetworks = "kube-manager.juniper.net/applied-networks"
	// Labels on every object made for a pod: which pod, by UID, so that a
	// pod deleted and recreated with the same name never inherits the old
	// one's interfaces or addresses.
	LabelPodUID = corev1alpha1.LabelPodUID
	// AnnotationPod names the pod, <namespace>/<name> (too long for a label).
	AnnotationPod = corev1alpha1.AnnotationPod

	// indexPod: a VirtualMachine, VirtualMachineInterface or InstanceIP by
	// its pod, <namespace>/<name>.
	indexPod = "metadata.annotations.pod"
)

// PodReconciler gives every pod (not on the host network) a VirtualMachine,
// one VirtualMachineInterface per network (eth0 on the default pod network,
// then one per selection element) and InstanceIPs for them, and writes the
// pod's k8s.v1.cni.cncf.io/network-status once the controller has
// allocated every address and MAC.
type PodReconciler struct {
	client.Client
	Config   *Config
	Recorder events.EventRecorder

	// retryAt holds, per pod (namespace/name), when to try again an
	// allocation that failed (a podRetry): its objects were removed, so
	// that nothing is held while the pod waits, and their deletions must
	// not start the next attempt at once.
	retryAt sync.Map
	// degradedBy holds, per plugged pod (namespace/name), the last
	// problem reported for it.
	degradedBy sync.Map

	// APIReader reads the apiserver, not the cache.
	APIReader client.Reader

	// created holds the interfaces and InstanceIPs this kubemanager
	// created that its cache has not shown yet (key: createdKey), so that
	// a pod's next reconcile reads them from the apiserver instead of
	// creating them again.
	created sync.Map
}

// createdKey names obj, made for pod, in PodReconciler.created.
func createdKey(pod types.NamespacedName, obj client.Object) string {
	return fmt.Sprintf("%s|%T|%s", pod, obj, client.ObjectKeyFromObject(obj))
}

// getMade reads obj, made for pod, from the cache; one this kubemanager
// created that the cache has not seen yet is read from the apiserver.
// The cache lags the creates of a burst: a pod reconciled again (its
// interface's event arrives before its InstanceIPs') created them a
// second time, answered AlreadyExists (0.64 failed creates per pod in
// the 1,000-pod burst), each a write's cost to the apiserver.
func (r *PodReconciler) getMade(ctx context.Context, pod types.NamespacedName, obj client.Object) error {
	id := createdKey(pod, obj)
	err := r.Get(ctx, client.ObjectKeyFromObject(obj), obj)
	if err == nil {
		r.created.Delete(id)
		return nil
	}
	if _, pending := r.created.Load(id); !pending || !apierrors.IsNotFound(err) {
		return err
	}
	err = r.APIReader.Get(ctx, client.ObjectKeyFromObject(obj), obj)
	if apierrors.IsNotFound(err) {
		r.created.Delete(id) // deleted since: made again
	}
	return err
}

// forgetMade drops what created holds for pod (gone).
func (r *PodReconciler) forgetMade(pod types.NamespacedName) {
	prefix := pod.String() + "|"
	r.created.Range(func(k, _ any) bool {
		if strings.HasPrefix(k.(string), prefix) {
			r.created.Delete(k)
		}
		return true
	})
}

// podRetry is a pod whose allocation failed.
type podRetry struct {
	uid types.UID
	at  time.Time
}

// allocationRetry is how long a pod whose allocation failed (an address
// taken or outside its network) waits before the next attempt.
const allocationRetry = 30 * time.Second

// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=core.contrail.juniper.net,resources=virtualmachines;virtualmachineinterfaces;instanceips,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups=k8s.cni.cncf.io,resources=network-attachment-definitions,verbs=get;list;watch

// iface is one interface a pod gets.
type iface struct {
	name       string               // in the pod: eth0, eth1...
	network    types.NamespacedName // its VirtualNetwork
	statusName string               // its name in network-status: <ns>/<nad>
	ips        []string             // requested static addresses
	mac        string               // requested MAC
	isDefault  bool                 // the pod's default route goes through it
	gateways   []string             // its selection element's default-route, checked against its subnets
}

// Reconcile makes the pod's objects and reports their allocations.
func (r *PodReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	pod := &corev1.Pod{}
	if err := r.Get(ctx, req.NamespacedName, pod); err != nil {
		if apierrors.IsNotFound(err) {
			r.retryAt.Delete(req.NamespacedName)
			r.degradedBy.Delete(req.NamespacedName.String())
			return ctrl.Result{}, r.cleanup(ctx, req.NamespacedName, "")
		}
		return ctrl.Result{}, err
	}
	if pod.Spec.HostNetwork {
		return ctrl.Result{}, nil
	}
	if v, ok := r.retryAt.Load(req.NamespacedName); ok {
		retry := v.(podRetry)
		if wait := time.Until(retry.at); retry.uid == pod.UID && wait > 0 {
			return ctrl.Result{RequeueAfter: wait}, nil
		}
		r.retryAt.Delete(req.NamespacedName)
	}
	// Objects of an earlier pod of the same name (deleted while kubemanager was down).
	if err := r.cleanup(ctx, req.NamespacedName, pod.UID); err != nil {
		return ctrl.Result{}, err
	}

	vm := &corev1alpha1.VirtualMachine{}
	vmExists := r.Get(ctx, types.NamespacedName{Name: vmName(r.Config.ClusterName, pod)}, vm) == nil
	requested := pod.Annotations[nadv1.NetworkAttachmentAnnot]
	applied := requested
	if vmExists {
		applied = vm.Annotations[AnnotationAppliedNetworks]
		if applied != requested {
			r.Recorder.Eventf(pod, nil, "Warning", "NetworksChanged", "ApplyNetworks",
				"the networks of a running pod cannot change: %s is applied as it was when the pod started (%q); recreate the pod to change them",
				nadv1.NetworkAttachmentAnnot, applied)
		}
	}

	ifaces, problem, err := r.plan(ctx, pod, applied)
	if err != nil {
		return ctrl.Result{}, err
	}
	if problem != nil {
		if plugged, err := r.plugged(ctx, pod); err != nil || plugged {
			return r.degraded(pod, problem.Message), err
		}
		if err := r.cleanup(ctx, req.NamespacedName, "none"); err != nil {
			return ctrl.Result{}, err
		}
		return retryAfter(problem), r.fail(ctx, pod, problem)
	}

	if !vmExists {
		annotations := podAnnotations(pod)
		annotations[AnnotationAppliedNetworks] = applied
		vm = &corev1alpha1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: vmName(r.Config.ClusterName, pod),
			Labels: podLabels(pod), Annotations: annotations},
			Spec: corev1alpha1.VirtualMachineSpec{ServerType: corev1alpha1.ServerTypeContainer,
				ServerNamespace: pod.Namespace, ServerName: pod.Name}}
		corev1alpha1.DefaultVirtualMachine(vm)
		// A VirtualMachine has nothing to allocate: valid once admitted, it
		// is created with the state the controller would write after
		// (its status is written with the object, docs/api.md).
		vm.Status.SetState(1, corev1alpha1.StateSuccess, corev1alpha1.ReasonReady, "")
		if err := r.Create(ctx, vm); err != nil && !apierrors.IsAlreadyExists(err) {
			return ctrl.Result{}, fmt.Errorf("failed to create VirtualMachine %s: %w", vm.Name, err)
		}
	}

	var statuses []nadv1.NetworkStatus
	var waiting []string
	var failures []*corev1alpha1.PodProblem
	for _, ifc := range ifaces {
		st, wait, failure, err := r.ensureInterface(ctx, pod, vm, ifc)
		if err != nil {
			return ctrl.Result{}, err
		}
		switch {
		case failure != nil:
			failures = append(failures, failure)
		case wait != "":
			waiting = append(waiting, wait)
		default:
			statuses = append(statuses, st)
		}
	}
	if len(failures) > 0 {
		problem := joinProblems(failures)
		if plugged, err := r.plugged(ctx, pod); err != nil || plugged {
			return r.degraded(pod, problem.Message), err
		}
		// The pod holds nothing while it waits for its user: its objects
		// (and the addresses its other interfaces got) go.
		if err := r.cleanup(ctx, req.NamespacedName, "none"); err != nil {
			return ctrl.Result{}, err
		}
		wait := allocationRetry
		if problem.Reason == corev1alpha1.PodProblemNotFound {
			wait = missingRetry // a network on its way (its NAD applied with the pod)
		}
		r.retryAt.Store(req.NamespacedName, podRetry{uid: pod.UID, at: time.Now().Add(wait)})
		return ctrl.Result{RequeueAfter: wait}, r.fail(ctx, pod, problem)
	}
	if len(waiting) > 0 {
		return ctrl.Result{}, nil // the objects' status changes requeue the pod
	}
	r.degradedBy.Delete(req.NamespacedName.String())
	data, err := json.MarshalIndent(statuses, "", "    ")
	if err != nil {
		return ctrl.Result{}, err
	}
	want := map[string]string{nadv1.NetworkStatusAnnot: string(data), AnnotationVMUUID: string(vm.UID)}
	if pod.Annotations[nadv1.NetworkStatusAnnot] == want[nadv1.NetworkStatusAnnot] && pod.Annotations[AnnotationVMUUID] == want[AnnotationVMUUID] &&
		pod.Annotations[AnnotationNetworksStatus] == "" && pod.Annotations[corev1alpha1.AnnotationPodProblem] == "" {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{}, r.annotate(ctx, pod, want, true)
}

// plugged says whether the pod may run with its interfaces: kubemanager
// wrote its network-status for this VirtualMachine, which is what the
// vrouter agent waits for before it plugs them. What a plugged pod holds
// is never taken back while it lives, whatever fails later (a network
// missing or made again, a NAD edited): its addresses and MACs are in its
// kernel. The pod is read again from the apiserver, not the cache, before
// anything of an unplugged pod is removed: a network-status just written
// may not have reached the cache.
func (r *PodReconciler) plugged(ctx context.Context, pod *corev1.Pod) (bool, error) {
	// The VirtualMachine's name holds the pod's UID: the annotation of a
	// pod is of its own VirtualMachine.
	isPlugged := func(p *corev1.Pod) bool {
		return p.Annotations[nadv1.NetworkStatusAnnot] != "" && p.Annotations[AnnotationVMUUID] != ""
	}
	if isPlugged(pod) {
		return true, nil
	}
	live := &corev1.Pod{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(pod), live); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	return live.UID == pod.UID && isPlugged(live), nil
}

// degraded reports a problem of a plugged pod: a Warning event, once per
// problem; its interfaces, objects and network-status stay as they are,
// and the pod is looked at again until the problem is repaired.
func (r *PodReconciler) degraded(pod *corev1.Pod, problem string) ctrl.Result {
	key := client.ObjectKeyFromObject(pod).String()
	if last, ok := r.degradedBy.Load(key); !ok || last.(string) != problem {
		r.Recorder.Eventf(pod, nil, "Warning", "NetworksDegraded", "KeepNetworks",
			"%s; the pod keeps its interfaces, addresses and MACs, and they are repaired when this is", problem)
		r.degradedBy.Store(key, problem)
	}
	return ctrl.Result{RequeueAfter: missingRetry}
}

// plan lists the pod's interfaces: eth0 on the default pod network, then
// one per selection element Kontrail plugs. A problem that fails the pod is
// returned typed; elements Kontrail does not plug get a Warning event.
func (r *PodReconciler) plan(ctx context.Context, pod *corev1.Pod, annotation string) ([]iface, *corev1alpha1.PodProblem, error) {
	ifaces := []iface{{name: "eth0", isDefault: true,
		network:    types.NamespacedName{Namespace: r.Config.Namespace, Name: r.Config.PodNetwork},
		statusName: r.Config.DefaultNetworkName()}}
	ns := &corev1.Namespace{}
	if err := r.Get(ctx, types.NamespacedName{Name: pod.Namespace}, ns); err != nil {
		return nil, nil, fmt.Errorf("failed to get namespace %s: %w", pod.Namespace, err)
	}
	if isolated(ns) {
		ifaces[0].network = types.NamespacedName{Namespace: pod.Namespace, Name: r.Config.PodNetwork}
		ifaces[0].statusName = ifaces[0].network.String()
	}
	if strings.TrimSpace(annotation) == "" {
		return ifaces, nil, nil
	}
	atts, err := ParseSelections(annotation, pod.Namespace)
	if err != nil {
		return nil, invalid("%v", err), nil
	}
	taken := map[string]bool{"eth0": true}
	for _, a := range atts {
		if a.Interface == "eth0" {
			return nil, invalid("interface eth0 of %s/%s: eth0 is the default pod network's interface and cannot be requested", a.Namespace, a.Name), nil
		}
		taken[a.Interface] = true
	}
	next := 1
	for _, a := range atts {
		if a.Unsupported != "" {
			r.Recorder.Eventf(pod, nil, "Warning", "AttachmentNotSupported", "PlugNetwork", a.Unsupported)
			continue
		}
		nad := &nadv1.NetworkAttachmentDefinition{}
		if err := r.Get(ctx, types.NamespacedName{Namespace: a.Namespace, Name: a.Name}, nad); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, notFound("NetworkAttachmentDefinition %s/%s not found", a.Namespace, a.Name), nil
			}
			return nil, nil, fmt.Errorf("failed to get NetworkAttachmentDefinition %s/%s: %w", a.Namespace, a.Name, err)
		}
		if typ, err := pluginType(nad.Spec.Config); err != nil || typ != PluginType {
			r.Recorder.Eventf(pod, nil, "Warning", "NotAContrailNetwork", "PlugNetwork",
				"NetworkAttachmentDefinition %s/%s is of type %q: Kontrail plugs only %s networks and never delegates to another plugin; the pod gets its other interfaces",
				a.Namespace, a.Name, typ, PluginType)
			continue
		}
		intent, err := ParseNetworkIntent(nad.Annotations, nad.Namespace, nad.Name)
		if err != nil {
			return nil, invalid("NetworkAttachmentDefinition %s/%s is invalid: %v", a.Namespace, a.Name, err), nil
		}
		network := types.NamespacedName{Namespace: nad.Namespace, Name: nad.Name}
		if intent.Existing != nil {
			network = *intent.Existing
		}
		// Whose networks the pod may use: the NAD's namespace, then the
		// network the NAD maps onto (from the NAD's namespace).
		for _, use := range []struct {
			from, kind string
			what       types.NamespacedName
		}{{pod.Namespace, "NetworkAttachmentDefinition", types.NamespacedName{Namespace: a.Namespace, Name: a.Name}},
			{nad.Namespace, "VirtualNetwork", network}} {
			why, err := crossNamespaceProblem(ctx, r.Client, r.Config, use.from, use.kind, use.what)
			if err != nil {
				return nil, nil, err
			}
			if why != "" {
				return nil, invalid("annotation %s: %s", nadv1.NetworkAttachmentAnnot, why), nil
			}
		}
		name := a.Interface
		for name == "" {
			if candidate := fmt.Sprintf("eth%d", next); !taken[candidate] {
				name = candidate
			}
			next++
		}
		ifc := iface{name: name, network: network, statusName: a.Namespace + "/" + a.Name, mac: a.MAC}
		for _, ip := range a.IPs {
			ifc.ips = append(ifc.ips, ip.String())
		}
		if len(a.DefaultRoute) > 0 {
			// Multus's semantics: the element's gateway takes the default
			// route off eth0 (ParseSelections allows one such element).
			ifaces[0].isDefault, ifc.isDefault = false, true
			for _, gw := range a.DefaultRoute {
				ifc.gateways = append(ifc.gateways, gw.String())
			}
		}
		ifaces = append(ifaces, ifc)
	}
	return ifaces, nil, nil
}

// ensureInterface makes an interface's VMI and InstanceIPs, and returns its
// network-status entry once they are allocated, or what it waits for, or
// the failure the controller reported.
func (r *PodReconciler) ensureInterface(ctx context.Context, pod *corev1.Pod, vm *corev1alpha1.VirtualMachine, ifc iface) (nadv1.NetworkStatus, string, *corev1alpha1.PodProblem, error) {
	st := nadv1.NetworkStatus{Name: ifc.statusName, Interface: ifc.name, Default: ifc.isDefault, Gateway: ifc.gateways}
	vn := &corev1alpha1.VirtualNetwork{}
	if err := r.Get(ctx, ifc.network, vn); err != nil {
		if apierrors.IsNotFound(err) {
			return st, "", notFound("interface %s: VirtualNetwork %s not found", ifc.name, ifc.network), nil
		}
		return st, "", nil, err
	}
	if len(ifc.gateways) > 0 {
		// Before anything is allocated: a gateway the pod cannot reach.
		var cidrs []netip.Prefix
		for _, ref := range []*corev1alpha1.ResourceReference{vn.Spec.V4SubnetReference, vn.Spec.V6SubnetReference} {
			if ref == nil {
				continue
			}
			subnet := &corev1alpha1.Subnet{}
			if err := r.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, subnet); err != nil {
				if apierrors.IsNotFound(err) {
					return st, "", notFound("interface %s: Subnet %s/%s of VirtualNetwork %s not found", ifc.name, ref.Namespace, ref.Name, ifc.network), nil
				}
				return st, "", nil, err
			}
			if p, err := netip.ParsePrefix(subnet.Spec.CIDR); err == nil {
				cidrs = append(cidrs, p.Masked())
			}
		}
		if problem := gatewaysOutside(ifc, cidrs); problem != nil {
			return st, "", problem, nil
		}
	}

	vmi := &corev1alpha1.VirtualMachineInterface{ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace,
		Name: truncate(pod.Name, 244) + "-" + shortHash(string(pod.UID), ifc.name)}}
	podKey := client.ObjectKeyFromObject(pod)
	if err := r.getMade(ctx, podKey, vmi); apierrors.IsNotFound(err) {
		vmi.Labels, vmi.Annotations = podLabels(pod), podAnnotations(pod)
		vmi.Spec = corev1alpha1.VirtualMachineInterfaceSpec{
			VirtualNetworkReference:  corev1alpha1.ResourceReference{Kind: "VirtualNetwork", Namespace: ifc.network.Namespace, Name: ifc.network.Name, UID: vn.UID},
			VirtualMachineReferences: []corev1alpha1.ResourceReference{{Kind: "VirtualMachine", Name: vm.Name, UID: vm.UID}},
			ClusterName:              r.Config.ClusterName, PodName: pod.Name, InterfaceName: ifc.name,
		}
		if ifc.mac != "" {
			vmi.Spec.VirtualMachineInterfaceMacAddresses.MACAddress = []corev1alpha1.MACAddress{corev1alpha1.MACAddress(ifc.mac)}
		}
		// Admission skips kubemanager's writes of this kind: what the webhook adds to the CRD's checks is done here.
		corev1alpha1.DefaultVirtualMachineInterface(vmi)
		if why := corev1alpha1.CheckNetworkCluster(vmi.Spec.ClusterName, vn); why != "" {
			return st, "", invalid("interface %s: spec.virtualNetworkReference: %s", ifc.name, why), nil
		}
		if err := r.Create(ctx, vmi); err != nil {
			if apierrors.IsInvalid(err) {
				return st, "", invalid("interface %s: %v", ifc.name, err), nil
			}
			if apierrors.IsAlreadyExists(err) {
				// An earlier reconcile made it and the cache has not seen it
				// yet: its arrival there requeues the pod.
				return st, "VirtualMachineInterface " + vmi.Name + " (reaching the cache)", nil, nil
			}
			return st, "", nil, fmt.Errorf("failed to create VirtualMachineInterface %s/%s: %w", vmi.Namespace, vmi.Name, err)
		}
		r.created.Store(createdKey(podKey, vmi), struct{}{})
	} else if err != nil {
		return st, "", nil, err
	}

	families := []corev1alpha1.IPFamily{}
	if vn.Spec.V4SubnetReference != nil {
		families = append(families, corev1alpha1.IPFamilyV4)
	}
	if vn.Spec.V6SubnetReference != nil {
		families = append(families, corev1alpha1.IPFamilyV6)
	}
	var waiting []string
	for _, family := range families {
		iip := &corev1alpha1.InstanceIP{ObjectMeta: metav1.ObjectMeta{
			Name: truncate(r.Config.ClusterName+"-"+pod.Name, 234) + "-" + shortHash(string(pod.UID), ifc.name, string(family))}}
		if err := r.getMade(ctx, podKey, iip); apierrors.IsNotFound(err) {
			iip.Labels, iip.Annotations = podLabels(pod), podAnnotations(pod)
			iip.Spec = corev1alpha1.InstanceIPSpec{InstanceIPFamily: family,
				VirtualNetworkReference:           corev1alpha1.ResourceReference{Kind: "VirtualNetwork", Namespace: ifc.network.Namespace, Name: ifc.network.Name, UID: vn.UID},
				VirtualMachineInterfaceReferences: []corev1alpha1.ResourceReference{{Kind: "VirtualMachineInterface", Namespace: vmi.Namespace, Name: vmi.Name, UID: vmi.UID}}}
			for _, ip := range ifc.ips {
				if strings.Contains(ip, ":") == (family == corev1alpha1.IPFamilyV6) {
					iip.Spec.InstanceIPAddress = ip
				}
			}
			corev1alpha1.DefaultInstanceIP(iip)
			if err := r.Create(ctx, iip); err != nil {
				if apierrors.IsInvalid(err) {
					return st, "", invalid("interface %s: %v", ifc.name, err), nil
				}
				if apierrors.IsAlreadyExists(err) {
					waiting = append(waiting, "InstanceIP "+iip.Name+" (reaching the cache)")
					continue
				}
				return st, "", nil, fmt.Errorf("failed to create InstanceIP %s: %w", iip.Name, err)
			}
			r.created.Store(createdKey(podKey, iip), struct{}{})
		} else if err != nil {
			return st, "", nil, err
		}
		switch iip.Status.State {
		case corev1alpha1.StateSuccess:
			st.IPs = append(st.IPs, iip.Spec.InstanceIPAddress)
		case corev1alpha1.StateFailure:
			return st, "", allocationFailed("interface %s: address on %s: %s", ifc.name, ifc.network, iip.Status.Observation), nil
		default:
			waiting = append(waiting, "InstanceIP "+iip.Name)
		}
	}
	switch vmi.Status.State {
	case corev1alpha1.StateFailure:
		return st, "", allocationFailed("interface %s: %s", ifc.name, vmi.Status.Observation), nil
	case corev1alpha1.StateSuccess:
		if macs := vmi.Spec.VirtualMachineInterfaceMacAddresses.MACAddress; len(macs) > 0 {
			st.Mac = string(macs[0])
		}
	default:
		waiting = append(waiting, "VirtualMachineInterface "+vmi.Name)
	}
	return st, strings.Join(waiting, ", "), nil, nil
}

// gatewaysOutside fails an interface whose default-route gateway is in
// none of its Subnets: the pod could not reach it.
func gatewaysOutside(ifc iface, cidrs []netip.Prefix) *corev1alpha1.PodProblem {
	for _, text := range ifc.gateways {
		gw, err := netip.ParseAddr(text)
		if err != nil {
			return invalid("interface %s: default-route %q is not an IP address", ifc.name, text)
		}
		inside := false
		for _, p := range cidrs {
			inside = inside || p.Contains(gw)
		}
		if !inside {
			return invalid("interface %s: default-route %s of network %s is in none of its subnets %v", ifc.name, gw, ifc.statusName, cidrs)
		}
	}
	return nil
}

// fail tells the pod why it gets no interfaces: to the user, a Warning
// event and juniper.net/networks-status (CN2's "failure: ..."); to the
// vrouter agent, the typed problem (AnnotationPodProblem).
func (r *PodReconciler) fail(ctx context.Context, pod *corev1.Pod, problem *corev1alpha1.PodProblem) error {
	typed, err := json.Marshal(problem)
	if err != nil {
		return err
	}
	status := "failure: " + problem.Message
	if pod.Annotations[AnnotationNetworksStatus] == status && pod.Annotations[corev1alpha1.AnnotationPodProblem] == string(typed) {
		return nil
	}
	r.Recorder.Eventf(pod, nil, "Warning", "NetworksFailed", "PlugNetworks", problem.Message)
	return r.annotate(ctx, pod, map[string]string{AnnotationNetworksStatus: status, corev1alpha1.AnnotationPodProblem: string(typed)}, false)
}

// The problems of a pod, by kind.
func notFound(format string, args ...any) *corev1alpha1.PodProblem {
	return &corev1alpha1.PodProblem{Reason: corev1alpha1.PodProblemNotFound, Message: fmt.Sprintf(format, args...), Retry: true}
}

func invalid(format string, args ...any) *corev1alpha1.PodProblem {
	return &corev1alpha1.PodProblem{Reason: corev1alpha1.PodProblemInvalidNetworks, Message: fmt.Sprintf(format, args...)}
}

func allocationFailed(format string, args ...any) *corev1alpha1.PodProblem {
	return &corev1alpha1.PodProblem{Reason: corev1alpha1.PodProblemAllocationFailed, Message: fmt.Sprintf(format, args...), Retry: true}
}

// joinProblems is one problem of several interfaces' (in order): the
// first one's reason, and retried only if each of them is.
func joinProblems(problems []*corev1alpha1.PodProblem) *corev1alpha1.PodProblem {
	out := &corev1alpha1.PodProblem{Reason: problems[0].Reason, Retry: true}
	var messages []string
	for _, p := range problems {
		messages = append(messages, p.Message)
		out.Retry = out.Retry && p.Retry
	}
	out.Message = strings.Join(messages, "; ")
	return out
}

// annotate patches the pod's annotations; clearStatus removes a failure
// the pod no longer has.
func (r *PodReconciler) annotate(ctx context.Context, pod *corev1.Pod, kv map[string]string, clearStatus bool) error {
	before := pod.DeepCopy()
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	for k, v := range kv {
		pod.Annotations[k] = v
	}
	if clearStatus {
		delete(pod.Annotations, AnnotationNetworksStatus)
		delete(pod.Annotations, corev1alpha1.AnnotationPodProblem)
	}
	if err := r.Patch(ctx, pod, client.MergeFrom(before)); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("failed to annotate pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// cleanup deletes the objects made for the pod of this name whose UID is
// not keep: all of them when the pod is gone (keep "").
func (r *PodReconciler) cleanup(ctx context.Context, pod types.NamespacedName, keep types.UID) error {
	if keep == "" || keep == "none" {
		// Every object of the pod goes (each reconcile also cleans up
		// after an earlier pod of its name, keeping the current one's:
		// its records stay).
		r.forgetMade(pod)
	}
	key := client.MatchingFields{indexPod: pod.String()}
	var errs []error
	var iips corev1alpha1.InstanceIPList
	var vmis corev1alpha1.VirtualMachineInterfaceList
	var vms corev1alpha1.VirtualMachineList
	for _, list := range []client.ObjectList{&iips, &vmis, &vms} {
		if err := r.List(ctx, list, key); err != nil {
			return fmt.Errorf("failed to list the objects of pod %s: %w", pod, err)
		}
	}
	var objs []client.Object
	for i := range iips.Items {
		objs = append(objs, &iips.Items[i])
	}
	for i := range vmis.Items {
		objs = append(objs, &vmis.Items[i])
	}
	for i := range vms.Items {
		objs = append(objs, &vms.Items[i])
	}
	for _, o := range objs {
		if types.UID(o.GetLabels()[LabelPodUID]) == keep || !o.GetDeletionTimestamp().IsZero() {
			continue
		}
		if err := r.Delete(ctx, o); client.IgnoreNotFound(err) != nil {
			errs = append(errs, err)
			continue
		}
		// Every release of what a pod held is said: it is where an address
		// goes back to its pool.
		why := "it was made for an earlier pod of this name"
		switch keep {
		case "":
			why = "the pod is gone"
		case "none":
			why = "the pod's allocation failed before it was plugged"
		}
		logf.FromContext(ctx).Info("Removed an object made for a pod", "pod", pod.String(), "object", fmt.Sprintf("%T %s", o, o.GetName()),
			"podUID", o.GetLabels()[LabelPodUID], "why", why)
	}
	return errors.Join(errs...)
}

// SetupWithManager watches pods and the objects made for them; pods are
// taken in the order they came (podOrder).
func (r *PodReconciler) SetupWithManager(mgr ctrl.Manager) error {
	order := newPodOrder()
	return ctrl.NewControllerManagedBy(mgr).
		Named("pod").
		WatchesRawSource(source.Kind(mgr.GetCache(), client.Object(&corev1.Pod{}), order.handler(thePod, true))).
		Watches(&corev1alpha1.VirtualMachine{}, order.handler(podOf, false)).
		Watches(&corev1alpha1.VirtualMachineInterface{}, order.handler(podOf, false)).
		Watches(&corev1alpha1.InstanceIP{}, order.handler(podOf, false)).
		WithOptions(controllerOptions(r.Config.Workers)).
		Complete(r)
}

// missingRetry is how soon a pod that failed for want of an object (its
// NetworkAttachmentDefinition, or the VirtualNetwork being made from it) is
// tried again: `kubectl apply` of a NAD and a pod in one file races, and
// nothing else requeues the pod when the object appears (as kubelet
// retries Multus's ADD).
const missingRetry = 2 * time.Second

// retryAfter requeues a pod whose problem is a missing object: nothing
// else requeues it when the object appears.
func retryAfter(problem *corev1alpha1.PodProblem) ctrl.Result {
	if problem.Reason == corev1alpha1.PodProblemNotFound {
		return ctrl.Result{RequeueAfter: missingRetry}
	}
	return ctrl.Result{}
}

func podLabels(pod *corev1.Pod) map[string]string {
	return map[string]string{LabelPodUID: string(pod.UID)}
}

func podAnnotations(pod *corev1.Pod) map[string]string {
	return map[string]string{AnnotationPod: pod.Namespace + "/" + pod.Name}
}

// vmName is <cluster>-<pod>-<hash of the pod's UID>, as CN2 names them.
func vmName(cluster string, pod *corev1.Pod) string {
	return truncate(cluster+"-"+pod.Name, 244) + "-" + shortHash(string(pod.UID))
}

func shortHash(parts ...string) string {
	h := fnv.New32a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return fmt.Sprintf("%08x", h.Sum32())
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.TrimRight(s[:n], "-.")
}
