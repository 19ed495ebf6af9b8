package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	nadutils "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/utils"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
	"github.com/kontrail/kontrail/cni/agentapi"
)

// Annotations and labels kubemanager writes (components/kubemanager).
const (
	labelPodUID              = "kube-manager.juniper.net/pod-uid"
	annotationNetworksStatus = "juniper.net/networks-status"
)

// resolver answers the plugin's question "what interfaces does this pod
// get": from the pod's network-status, which kubemanager writes once the
// controller allocated everything, and the pod's VirtualMachineInterfaces
// and InstanceIPs.
type resolver struct {
	node string
	// cache holds this node's pods, the networks and subnets.
	cache client.Reader
	// api reads a pod's interfaces and addresses by label, on demand: the
	// agent keeps no cluster-wide cache of them.
	api client.Reader
	mtu int
	// poll is how often a wait looks again.
	poll time.Duration
	// failureGrace is how long kubemanager's failure must last to be final.
	failureGrace time.Duration
}

// Interfaces waits, up to req.WaitSeconds, for the pod's interfaces.
func (r *resolver) Interfaces(ctx context.Context, req agentapi.InterfacesRequest) (*agentapi.Interfaces, *agentapi.Error) {
	wait := time.Duration(req.WaitSeconds) * time.Second
	if wait <= 0 {
		wait = 60 * time.Second
	}
	deadline := time.Now().Add(wait)
	why := "kubemanager has not written the pod's network-status yet"
	var failingSince time.Time
	for {
		itfs, waiting, failure := r.try(ctx, req)
		switch {
		case itfs != nil:
			return itfs, nil
		case failure != nil && failure.Code == agentapi.CodeInvalidConfig:
			// kubemanager's failures can be transient (a NAD's network
			// still being made): it must last a while to be the answer.
			if failingSince.IsZero() {
				failingSince = time.Now()
			}
			if time.Since(failingSince) >= r.failureGrace || time.Now().After(deadline) {
				return nil, failure
			}
			waiting = failure.Message
		case failure != nil:
			return nil, failure
		default:
			failingSince = time.Time{}
		}
		why = waiting
		if time.Now().After(deadline) {
			code := uint(agentapi.CodeTryAgainLater)
			if strings.HasPrefix(why, "pod ") && strings.Contains(why, "is not known") {
				code = agentapi.CodeUnknownContainer
			}
			return nil, &agentapi.Error{Code: code, Message: fmt.Sprintf("interfaces of pod %s/%s not allocated after %s: %s",
				req.PodNamespace, req.PodName, wait, why)}
		}
		select {
		case <-ctx.Done():
			return nil, &agentapi.Error{Code: agentapi.CodeTryAgainLater, Message: "the request was cancelled while waiting: " + why}
		case <-time.After(r.poll):
		}
	}
}

// try answers now: the interfaces, or what they wait for, or a failure.
func (r *resolver) try(ctx context.Context, req agentapi.InterfacesRequest) (*agentapi.Interfaces, string, *agentapi.Error) {
	pod := &corev1.Pod{}
	if err := r.cache.Get(ctx, client.ObjectKey{Namespace: req.PodNamespace, Name: req.PodName}, pod); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Sprintf("pod %s/%s is not known on node %s", req.PodNamespace, req.PodName, r.node), nil
		}
		return nil, "", internal(err)
	}
	if req.PodUID != "" && string(pod.UID) != req.PodUID {
		return nil, fmt.Sprintf("pod %s/%s is not known on node %s with UID %s", req.PodNamespace, req.PodName, r.node, req.PodUID), nil
	}
	if s := pod.Annotations[annotationNetworksStatus]; strings.HasPrefix(s, "failure: ") {
		return nil, "", &agentapi.Error{Code: agentapi.CodeInvalidConfig, Message: fmt.Sprintf("pod %s/%s: %s (see its %s annotation and events)",
			pod.Namespace, pod.Name, strings.TrimPrefix(s, "failure: "), annotationNetworksStatus)}
	}
	raw := pod.Annotations[nadv1.NetworkStatusAnnot]
	if raw == "" {
		return nil, "kubemanager has not written the pod's network-status yet (the controller may still be allocating)", nil
	}
	var statuses []nadv1.NetworkStatus
	if err := json.Unmarshal([]byte(raw), &statuses); err != nil {
		return nil, "", &agentapi.Error{Code: agentapi.CodeInvalidConfig, Message: "the pod's network-status does not parse: " + err.Error()}
	}
	var vmis corev1alpha1.VirtualMachineInterfaceList
	if err := r.api.List(ctx, &vmis, client.InNamespace(pod.Namespace), client.MatchingLabels{labelPodUID: string(pod.UID)}); err != nil {
		return nil, "", internal(err)
	}
	var iips corev1alpha1.InstanceIPList
	if err := r.api.List(ctx, &iips, client.MatchingLabels{labelPodUID: string(pod.UID)}); err != nil {
		return nil, "", internal(err)
	}
	out := &agentapi.Interfaces{PodUID: string(pod.UID)}
	for _, st := range statuses {
		itf, waiting, err := r.build(ctx, st, vmis.Items, iips.Items)
		if err != nil || waiting != "" {
			return nil, waiting, err
		}
		itf.DefaultRoute = st.Default
		out.Interfaces = append(out.Interfaces, itf)
	}
	sort.SliceStable(out.Interfaces, func(i, j int) bool { return out.Interfaces[i].DefaultRoute && !out.Interfaces[j].DefaultRoute })
	if err := defaultRoute(pod, out.Interfaces); err != nil {
		return nil, "", err
	}
	return out, "", nil
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

// defaultRoute moves the default route to the interface a selection
// element's default-route names (Multus's semantics: the element's gateway),
// away from eth0.
func defaultRoute(pod *corev1.Pod, itfs []agentapi.Interface) *agentapi.Error {
	raw := pod.Annotations[nadv1.NetworkAttachmentAnnot]
	if raw == "" {
		return nil
	}
	elements, err := nadutils.ParseNetworkAnnotation(raw, pod.Namespace)
	if err != nil {
		return nil // kubemanager validated it; it would have failed the pod
	}
	for _, e := range elements {
		for _, gw := range e.GatewayRequest {
			addr, ok := netip.AddrFromSlice(gw)
			if !ok {
				continue
			}
			addr = addr.Unmap()
			// The element's own interface first: eth0 may share its CIDR.
			order := make([]int, 0, len(itfs))
			for i := len(itfs) - 1; i >= 0; i-- {
				order = append(order, i)
			}
			for _, i := range order {
				for j, ip := range itfs[i].IPs {
					p, err := netip.ParsePrefix(ip.Address)
					if err != nil || !p.Masked().Contains(addr) {
						continue
					}
					for k := range itfs {
						itfs[k].DefaultRoute = false
					}
					itfs[i].DefaultRoute = true
					itfs[i].IPs[j].Gateway = addr.String()
					return nil
				}
			}
			return &agentapi.Error{Code: agentapi.CodeInvalidConfig, Message: fmt.Sprintf(
				"pod %s/%s: default-route %s of network %s is in none of the pod's subnets", pod.Namespace, pod.Name, addr, e.Name)}
		}
	}
	return nil
}

func internal(err error) *agentapi.Error {
	return &agentapi.Error{Code: agentapi.CodeInternal, Message: err.Error()}
}
