package webhook

import (
	"net/netip"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
)

// namespacedFQName is the fqName CN2 gives a namespaced object.
func namespacedFQName(namespace, name string) []string {
	return []string{corev1alpha1.DefaultDomain, namespace, name}
}

// defaultReference fills a reference's kind, apiVersion and, for a
// namespaced kind, the namespace of the referring object when left out.
func defaultReference(ref *corev1alpha1.ResourceReference, kind, namespace string) {
	if ref.Kind == "" {
		ref.Kind = kind
	}
	if ref.APIVersion == "" {
		ref.APIVersion = corev1alpha1.GroupVersion.String()
	}
	if ref.Namespace == "" {
		ref.Namespace = namespace
	}
}

// DefaultVirtualNetwork sets the fqName, the forwarding properties
// (l2_l3, rpf enable) and the kind of the subnet references.
func DefaultVirtualNetwork(vn *corev1alpha1.VirtualNetwork) {
	if len(vn.Spec.FQName) == 0 {
		vn.Spec.FQName = namespacedFQName(vn.Namespace, vn.Name)
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
			defaultReference(ref, "Subnet", vn.Namespace)
		}
	}
}

// DefaultSubnet sets the fqName and, when none is given, the gateway: the
// first host address of the block (172.16.10.1 for 172.16.10.0/24), as CN2
// does. An IPv4 /31 or /32 gets none: it has no address to spare.
func DefaultSubnet(sn *corev1alpha1.Subnet) {
	if len(sn.Spec.FQName) == 0 {
		sn.Spec.FQName = namespacedFQName(sn.Namespace, sn.Name)
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
	defaultReference(&ri.Spec.Parent, "VirtualNetwork", ri.Namespace)
	if len(ri.Spec.FQName) == 0 {
		ri.Spec.FQName = []string{corev1alpha1.DefaultDomain, ri.Namespace, ri.Spec.Parent.Name, ri.Name}
	}
	for i := range ri.Spec.RouteTargetReferences {
		ref := &ri.Spec.RouteTargetReferences[i].ResourceReference
		defaultReference(ref, "RouteTarget", "")
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

// DefaultVirtualMachine sets the fqName, the server type (container) and
// the workload, /<serverNamespace>/<serverName>.
func DefaultVirtualMachine(vm *corev1alpha1.VirtualMachine) {
	if len(vm.Spec.FQName) == 0 {
		vm.Spec.FQName = []string{vm.Name}
	}
	if vm.Spec.ServerType == "" {
		vm.Spec.ServerType = corev1alpha1.ServerTypeContainer
	}
	if vm.Spec.Workload == "" && vm.Spec.ServerName != "" {
		vm.Spec.Workload = "/" + vm.Spec.ServerNamespace + "/" + vm.Spec.ServerName
	}
}

// DefaultVirtualMachineInterface sets the fqName and the kinds and
// namespaces of the references.
func DefaultVirtualMachineInterface(vmi *corev1alpha1.VirtualMachineInterface) {
	if len(vmi.Spec.FQName) == 0 {
		vmi.Spec.FQName = namespacedFQName(vmi.Namespace, vmi.Name)
	}
	defaultReference(&vmi.Spec.VirtualNetworkReference, "VirtualNetwork", vmi.Namespace)
	for i := range vmi.Spec.VirtualMachineReferences {
		defaultReference(&vmi.Spec.VirtualMachineReferences[i], "VirtualMachine", "")
	}
}

// DefaultInstanceIP sets the fqName, the address family (from the address,
// else v4) and the kinds of the references. An InstanceIP is cluster-scoped,
// so its network reference must name a namespace; it is not defaulted.
func DefaultInstanceIP(iip *corev1alpha1.InstanceIP) {
	if len(iip.Spec.FQName) == 0 {
		iip.Spec.FQName = []string{iip.Name}
	}
	if iip.Spec.InstanceIPFamily == "" {
		iip.Spec.InstanceIPFamily = corev1alpha1.IPFamilyV4
		if addr, err := netip.ParseAddr(iip.Spec.InstanceIPAddress); err == nil && addr.Is6() && !addr.Is4In6() {
			iip.Spec.InstanceIPFamily = corev1alpha1.IPFamilyV6
		}
	}
	defaultReference(&iip.Spec.VirtualNetworkReference, "VirtualNetwork", "")
	for i := range iip.Spec.VirtualMachineInterfaceReferences {
		defaultReference(&iip.Spec.VirtualMachineInterfaceReferences[i], "VirtualMachineInterface", "")
	}
}

// DefaultVirtualNetworkRouter sets the fqName.
func DefaultVirtualNetworkRouter(vnr *corev1alpha1.VirtualNetworkRouter) {
	if len(vnr.Spec.FQName) == 0 {
		vnr.Spec.FQName = namespacedFQName(vnr.Namespace, vnr.Name)
	}
}

// DefaultVirtualRouter sets the fqName, [default-global-system-config, name].
func DefaultVirtualRouter(vr *corev1alpha1.VirtualRouter) {
	if len(vr.Spec.FQName) == 0 {
		vr.Spec.FQName = []string{corev1alpha1.DefaultGlobalSystemConfig, vr.Name}
	}
	for i := range vr.Spec.VirtualMachineReferences {
		defaultReference(&vr.Spec.VirtualMachineReferences[i], "VirtualMachine", "")
	}
}
