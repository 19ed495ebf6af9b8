package webhook

import (
	"net/netip"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
)

// DefaultVirtualNetwork sets the fqName, the forwarding properties
// (l2_l3, rpf enable) and the kind of the subnet references.
func DefaultVirtualNetwork(vn *corev1alpha1.VirtualNetwork) {
	if len(vn.Spec.FQName) == 0 {
		vn.Spec.FQName = corev1alpha1.NamespacedFQName(vn.Namespace, vn.Name)
	}
	props := &vn.Spec.VirtualNetworkProperties
	if props.ForwardingMode == "" {
		props.ForwardingMode = corev1alpha1.ForwardingModeL2L3
	}
	if props.RPF == "" {
		props.RPF = corev1alpha1.RPFEnable
	}
	for _, ref := range []*corev1alpha1.ResourceReference{vn.Spec.V4SubnetReference, vn.Spec.V6SubnetReference} {
		if ref != nil {
			corev1alpha1.DefaultReference(ref, "Subnet", vn.Namespace)
		}
	}
}

// DefaultSubnet sets the fqName and, when none is given, the gateway: the
// first host address of the block (172.16.10.1 for 172.16.10.0/24), as CN2
// does. An IPv4 /31 or /32 gets none: it has no address to spare.
func DefaultSubnet(sn *corev1alpha1.Subnet) {
	if len(sn.Spec.FQName) == 0 {
		sn.Spec.FQName = corev1alpha1.NamespacedFQName(sn.Namespace, sn.Name)
	}
	if sn.Spec.DefaultGateway == "" && !sn.Spec.DisableDefaultGateway {
		if gw, ok := firstHost(sn.Spec.CIDR); ok {
			sn.Spec.DefaultGateway = gw.String()
		}
	}
}

// firstHost is the address after the network address of a block that has
// room for a gateway and at least one interface.
func firstHost(cidr string) (netip.Addr, bool) {
	prefix, err := netip.ParsePrefix(cidr)
	if err != nil || prefix != prefix.Masked() {
		return netip.Addr{}, false
	}
	if prefix.Addr().Is4() && prefix.Bits() > 30 || prefix.Addr().Is6() && prefix.Bits() > 126 {
		return netip.Addr{}, false
	}
	return prefix.Addr().Next(), true
}

// DefaultRoutingInstance sets the fqName, [domain, namespace, network, name],
// and the parent reference's kind.
func DefaultRoutingInstance(ri *corev1alpha1.RoutingInstance) {
	corev1alpha1.DefaultReference(&ri.Spec.Parent, "VirtualNetwork", ri.Namespace)
	if len(ri.Spec.FQName) == 0 {
		ri.Spec.FQName = []string{corev1alpha1.DefaultDomain, ri.Namespace, ri.Spec.Parent.Name, ri.Name}
	}
	for i := range ri.Spec.RouteTargetReferences {
		ref := &ri.Spec.RouteTargetReferences[i].ResourceReference
		corev1alpha1.DefaultReference(ref, "RouteTarget", "")
		if len(ref.FQName) == 0 {
			ref.FQName = []string{ref.Name}
		}
	}
}

// DefaultRouteTarget sets the fqName, [name].
func DefaultRouteTarget(rt *corev1alpha1.RouteTarget) {
	if len(rt.Spec.FQName) == 0 {
		rt.Spec.FQName = []string{rt.Name}
	}
}

// DefaultVirtualNetworkRouter sets the fqName.
func DefaultVirtualNetworkRouter(vnr *corev1alpha1.VirtualNetworkRouter) {
	if len(vnr.Spec.FQName) == 0 {
		vnr.Spec.FQName = corev1alpha1.NamespacedFQName(vnr.Namespace, vnr.Name)
	}
}

// DefaultVirtualRouter sets the fqName, [default-global-system-config, name].
func DefaultVirtualRouter(vr *corev1alpha1.VirtualRouter) {
	if len(vr.Spec.FQName) == 0 {
		vr.Spec.FQName = []string{corev1alpha1.DefaultGlobalSystemConfig, vr.Name}
	}
	for i := range vr.Spec.VirtualMachineReferences {
		corev1alpha1.DefaultReference(&vr.Spec.VirtualMachineReferences[i], "VirtualMachine", "")
	}
}
