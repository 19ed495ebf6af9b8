package v1alpha1

import "net/netip"

// The defaults of the kinds kubemanager and the controller write for every
// pod: VirtualMachine, VirtualMachineInterface and InstanceIP. The
// apiserver's mutating webhook applies them to every other writer's
// objects; the webhooks of these kinds skip the components' own accounts
// (docs/api.md, "Admission"), so the components apply them before they
// write, and their objects are stored in the same defaulted form.

// NamespacedFQName is the fqName CN2 gives a namespaced object:
// [default-domain, <namespace>, <name>].
func NamespacedFQName(namespace, name string) []string {
	return []string{DefaultDomain, namespace, name}
}

// DefaultReference fills a reference's kind, apiVersion and, for a
// namespaced kind, the namespace of the referring object when left out.
func DefaultReference(ref *ResourceReference, kind, namespace string) {
	if ref.Kind == "" {
		ref.Kind = kind
	}
	if ref.APIVersion == "" {
		ref.APIVersion = GroupVersion.String()
	}
	if ref.Namespace == "" {
		ref.Namespace = namespace
	}
}

// DefaultVirtualMachine sets the fqName, the server type (container) and
// the workload, /<serverNamespace>/<serverName>.
func DefaultVirtualMachine(vm *VirtualMachine) {
	if len(vm.Spec.FQName) == 0 {
		vm.Spec.FQName = []string{vm.Name}
	}
	if vm.Spec.ServerType == "" {
		vm.Spec.ServerType = ServerTypeContainer
	}
	if vm.Spec.Workload == "" && vm.Spec.ServerName != "" {
		vm.Spec.Workload = "/" + vm.Spec.ServerNamespace + "/" + vm.Spec.ServerName
	}
}

// DefaultVirtualMachineInterface sets the fqName and the kinds and
// namespaces of the references.
func DefaultVirtualMachineInterface(vmi *VirtualMachineInterface) {
	if len(vmi.Spec.FQName) == 0 {
		vmi.Spec.FQName = NamespacedFQName(vmi.Namespace, vmi.Name)
	}
	DefaultReference(&vmi.Spec.VirtualNetworkReference, "VirtualNetwork", vmi.Namespace)
	for i := range vmi.Spec.VirtualMachineReferences {
		DefaultReference(&vmi.Spec.VirtualMachineReferences[i], "VirtualMachine", "")
	}
}

// DefaultInstanceIP sets the fqName, the address family (from the address,
// else v4) and the kinds of the references. An InstanceIP is cluster-scoped,
// so its network reference must name a namespace; it is not defaulted.
func DefaultInstanceIP(iip *InstanceIP) {
	if len(iip.Spec.FQName) == 0 {
		iip.Spec.FQName = []string{iip.Name}
	}
	if iip.Spec.InstanceIPFamily == "" {
		iip.Spec.InstanceIPFamily = IPFamilyV4
		if addr, err := netip.ParseAddr(iip.Spec.InstanceIPAddress); err == nil && addr.Is6() && !addr.Is4In6() {
			iip.Spec.InstanceIPFamily = IPFamilyV6
		}
	}
	DefaultReference(&iip.Spec.VirtualNetworkReference, "VirtualNetwork", "")
	for i := range iip.Spec.VirtualMachineInterfaceReferences {
		DefaultReference(&iip.Spec.VirtualMachineInterfaceReferences[i], "VirtualMachineInterface", "")
	}
}
