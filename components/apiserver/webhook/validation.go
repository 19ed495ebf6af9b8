package webhook

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"

	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
)

// The validators here check one object on its own; the webhook adds the
// checks that need other objects. Each error names the field and the value.

var (
	specPath = field.NewPath("spec")
	// interfaceName is what Linux accepts as a link name (IFNAMSIZ - 1).
	interfaceName = regexp.MustCompile(`^[^/:\s]{1,15}$`)
)

// ValidateRouteTargets checks a list of route targets' syntax and ranges;
// one in the controller's range is refused.
func ValidateRouteTargets(rts []corev1alpha1.RouteTargetString, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[corev1alpha1.RouteTargetString]bool{}
	for i, rt := range rts {
		if v, err := corev1alpha1.ParseRouteTarget(string(rt)); err != nil {
			errs = append(errs, field.Invalid(path.Index(i), rt, err.Error()))
		} else if v.IsSystem() {
			errs = append(errs, field.Forbidden(path.Index(i), fmt.Sprintf("%s: %s", rt, corev1alpha1.SystemRouteTargetRange)))
		}
		if seen[rt] {
			errs = append(errs, field.Duplicate(path.Index(i), rt))
		}
		seen[rt] = true
	}
	return errs
}

// VirtualNetworkWarnings are the admission warnings of a VirtualNetwork:
// the fields it sets that Kontrail accepts (CN2's users set them) and does
// not implement on it, or overrides. fabricSNAT is implemented on the
// cluster's pod network (LabelDefaultNetwork=pod), the network every node
// routes; fabricForwarding on any network, and it takes precedence over
// fabricSNAT (as in CN2: the pods leave with their own addresses).
func VirtualNetworkWarnings(vn *corev1alpha1.VirtualNetwork) admission.Warnings {
	var w admission.Warnings
	switch {
	case vn.Spec.FabricSNAT && vn.Spec.FabricForwarding:
		w = append(w, "spec.fabricSNAT is ignored: spec.fabricForwarding takes precedence (the network is routed on the fabric "+
			"and its pods leave the cluster with their own addresses, not their node's)")
	case vn.Spec.FabricSNAT && vn.Labels[corev1alpha1.LabelDefaultNetwork] != corev1alpha1.DefaultNetworkPod:
		w = append(w, "spec.fabricSNAT is implemented on the cluster's pod network only: this network's traffic does not leave "+
			"the cluster through its node's address (its pods leave through their eth0, the pod network)")
	}
	return w
}

// ValidateVirtualNetwork checks a VirtualNetwork on its own.
func ValidateVirtualNetwork(vn *corev1alpha1.VirtualNetwork) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, ValidateRouteTargets(vn.Spec.RouteTargetList, specPath.Child("routeTargetList"))...)
	errs = append(errs, ValidateRouteTargets(vn.Spec.ImportRouteTargetList, specPath.Child("importRouteTargetList"))...)
	errs = append(errs, ValidateRouteTargets(vn.Spec.ExportRouteTargetList, specPath.Child("exportRouteTargetList"))...)
	for path, ref := range map[*field.Path]*corev1alpha1.ResourceReference{
		specPath.Child("v4SubnetReference"): vn.Spec.V4SubnetReference,
		specPath.Child("v6SubnetReference"): vn.Spec.V6SubnetReference,
	} {
		if ref == nil {
			continue
		}
		if ref.Name == "" {
			errs = append(errs, field.Required(path.Child("name"), "the Subnet's name"))
		}
	}
	return errs
}

// ValidateSubnet checks a Subnet's block and gateway.
func ValidateSubnet(sn *corev1alpha1.Subnet) field.ErrorList {
	var errs field.ErrorList
	cidrPath := specPath.Child("cidr")
	prefix, err := netip.ParsePrefix(sn.Spec.CIDR)
	if err != nil {
		return append(errs, field.Invalid(cidrPath, sn.Spec.CIDR, "must be a CIDR such as 172.16.10.0/24 or fd00:10::/64"))
	}
	if prefix != prefix.Masked() {
		errs = append(errs, field.Invalid(cidrPath, sn.Spec.CIDR,
			fmt.Sprintf("must be the network address of the block: %s", prefix.Masked())))
		prefix = prefix.Masked()
	}

	if gwText := sn.Spec.DefaultGateway; gwText != "" {
		gwPath := specPath.Child("defaultGateway")
		gw, err := netip.ParseAddr(gwText)
		switch {
		case err != nil:
			errs = append(errs, field.Invalid(gwPath, gwText, "must be an IP address"))
		case !prefix.Contains(gw):
			errs = append(errs, field.Invalid(gwPath, gwText, fmt.Sprintf("must be inside cidr %s", prefix)))
		case gw == prefix.Addr():
			errs = append(errs, field.Invalid(gwPath, gwText, fmt.Sprintf("must not be the network address of %s", prefix)))
		case prefix.Addr().Is4() && gw == lastAddr(prefix):
			errs = append(errs, field.Invalid(gwPath, gwText, fmt.Sprintf("must not be the broadcast address of %s", prefix)))
		}
		if prefix.Addr().Is4() && prefix.Bits() > 30 {
			errs = append(errs, field.Invalid(cidrPath, sn.Spec.CIDR,
				"an IPv4 cidr with a defaultGateway must be /30 or shorter: a longer prefix leaves no address for an interface"))
		}
	}
	for i, ns := range sn.Spec.DNSNameservers {
		if _, err := netip.ParseAddr(ns); err != nil {
			errs = append(errs, field.Invalid(specPath.Child("dnsNameservers").Index(i), ns, "must be an IP address"))
		}
	}
	return errs
}

// ValidateSubnetUpdate checks what may not change.
func ValidateSubnetUpdate(old, sn *corev1alpha1.Subnet) field.ErrorList {
	if old.Spec.CIDR != sn.Spec.CIDR {
		return field.ErrorList{field.Invalid(specPath.Child("cidr"), sn.Spec.CIDR,
			fmt.Sprintf("is immutable (was %s): create a new Subnet instead", old.Spec.CIDR))}
	}
	return nil
}

// lastAddr is the highest address of a block: the IPv4 broadcast address.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := range b {
		bits := p.Bits() - i*8
		switch {
		case bits <= 0:
			b[i] = 0xff
		case bits < 8:
			b[i] |= 0xff >> bits
		}
	}
	addr, _ := netip.AddrFromSlice(b)
	return addr
}

// ValidateRoutingInstance checks the parent and the route target references.
func ValidateRoutingInstance(ri *corev1alpha1.RoutingInstance) field.ErrorList {
	var errs field.ErrorList
	if ri.Spec.Parent.Kind != "VirtualNetwork" {
		errs = append(errs, field.Invalid(specPath.Child("parent", "kind"), ri.Spec.Parent.Kind, "must be VirtualNetwork"))
	}
	if ri.Spec.Parent.Name == "" {
		errs = append(errs, field.Required(specPath.Child("parent", "name"), "the VirtualNetwork's name"))
	}
	for i, ref := range ri.Spec.RouteTargetReferences {
		if _, err := corev1alpha1.ParseRouteTargetObjectName(ref.Name); err != nil {
			errs = append(errs, field.Invalid(specPath.Child("routeTargetReferences").Index(i).Child("name"), ref.Name, err.Error()))
		}
	}
	return errs
}

// ValidateRoutingInstanceUpdate checks what may not change.
func ValidateRoutingInstanceUpdate(old, ri *corev1alpha1.RoutingInstance) field.ErrorList {
	if old.Spec.Parent.Name != ri.Spec.Parent.Name {
		return field.ErrorList{field.Invalid(specPath.Child("parent", "name"), ri.Spec.Parent.Name, "is immutable")}
	}
	return nil
}

// ValidateRouteTarget checks that the object's name is a valid route target.
func ValidateRouteTarget(rt *corev1alpha1.RouteTarget) field.ErrorList {
	if _, err := corev1alpha1.ParseRouteTargetObjectName(rt.Name); err != nil {
		return field.ErrorList{field.Invalid(field.NewPath("metadata", "name"), rt.Name, err.Error())}
	}
	return nil
}

// ValidateVirtualMachine has nothing to check beyond the schema.
func ValidateVirtualMachine(*corev1alpha1.VirtualMachine) field.ErrorList { return nil }

// ValidateVirtualMachineInterface checks the MACs and the interface name.
func ValidateVirtualMachineInterface(vmi *corev1alpha1.VirtualMachineInterface) field.ErrorList {
	var errs field.ErrorList
	if vmi.Spec.VirtualNetworkReference.Name == "" {
		errs = append(errs, field.Required(specPath.Child("virtualNetworkReference", "name"), "the VirtualNetwork's name"))
	}
	macPath := specPath.Child("virtualMachineInterfaceMacAddresses", "macAddress")
	for i, mac := range vmi.Spec.VirtualMachineInterfaceMacAddresses.MACAddress {
		if hw, err := net.ParseMAC(string(mac)); err != nil || len(hw) != 6 {
			errs = append(errs, field.Invalid(macPath.Index(i), mac, "must be a MAC address such as 02:11:8e:c0:2f:e0"))
		}
	}
	if name := vmi.Spec.InterfaceName; name != "" && (!interfaceName.MatchString(name) || name == "." || name == "..") {
		errs = append(errs, field.Invalid(specPath.Child("interfaceName"), name,
			"must be a Linux interface name: at most 15 characters, no '/', ':' or white space"))
	}
	return errs
}

// ValidateVirtualMachineInterfaceUpdate checks what may not change.
func ValidateVirtualMachineInterfaceUpdate(old, vmi *corev1alpha1.VirtualMachineInterface) field.ErrorList {
	return validateNetworkUnchanged(old.Spec.VirtualNetworkReference, vmi.Spec.VirtualNetworkReference)
}

func validateNetworkUnchanged(old, ref corev1alpha1.ResourceReference) field.ErrorList {
	if old.Name != ref.Name || old.Namespace != ref.Namespace {
		return field.ErrorList{field.Invalid(specPath.Child("virtualNetworkReference"), ref.Namespace+"/"+ref.Name,
			fmt.Sprintf("is immutable (was %s/%s)", old.Namespace, old.Name))}
	}
	return nil
}

// ValidateInstanceIP checks the address, its family and the network reference.
func ValidateInstanceIP(iip *corev1alpha1.InstanceIP) field.ErrorList {
	var errs field.ErrorList
	if text := iip.Spec.InstanceIPAddress; text != "" {
		addr, err := netip.ParseAddr(text)
		switch {
		case err != nil:
			errs = append(errs, field.Invalid(specPath.Child("instanceIPAddress"), text, "must be an IP address"))
		case addr.Is4() != (iip.Spec.InstanceIPFamily == corev1alpha1.IPFamilyV4):
			errs = append(errs, field.Invalid(specPath.Child("instanceIPAddress"), text,
				fmt.Sprintf("is not of instanceIPFamily %s", iip.Spec.InstanceIPFamily)))
		}
	}
	ref := iip.Spec.VirtualNetworkReference
	if ref.Name == "" {
		errs = append(errs, field.Required(specPath.Child("virtualNetworkReference", "name"), "the VirtualNetwork's name"))
	}
	if ref.Namespace == "" {
		errs = append(errs, field.Required(specPath.Child("virtualNetworkReference", "namespace"),
			"an InstanceIP is cluster-scoped: name the VirtualNetwork's namespace"))
	}
	return errs
}

// ValidateInstanceIPUpdate checks what may not change.
func ValidateInstanceIPUpdate(old, iip *corev1alpha1.InstanceIP) field.ErrorList {
	errs := validateNetworkUnchanged(old.Spec.VirtualNetworkReference, iip.Spec.VirtualNetworkReference)
	if old.Spec.InstanceIPAddress != "" && old.Spec.InstanceIPAddress != iip.Spec.InstanceIPAddress {
		errs = append(errs, field.Invalid(specPath.Child("instanceIPAddress"), iip.Spec.InstanceIPAddress,
			fmt.Sprintf("is immutable once set (was %s)", old.Spec.InstanceIPAddress)))
	}
	return errs
}

// ValidateVirtualNetworkRouter checks the label selectors.
func ValidateVirtualNetworkRouter(vnr *corev1alpha1.VirtualNetworkRouter) field.ErrorList {
	var errs field.ErrorList
	opts := metav1validation.LabelSelectorValidationOptions{}
	errs = append(errs, metav1validation.ValidateLabelSelector(vnr.Spec.VirtualNetworkSelector, opts, specPath.Child("virtualNetworkSelector"))...)
	for i, imp := range vnr.Spec.Import.VirtualNetworkRouters {
		p := specPath.Child("import", "virtualNetworkRouters").Index(i)
		errs = append(errs, metav1validation.ValidateLabelSelector(imp.VirtualNetworkRouterSelector, opts, p.Child("virtualNetworkRouterSelector"))...)
		errs = append(errs, metav1validation.ValidateLabelSelector(imp.NamespaceSelector, opts, p.Child("namespaceSelector"))...)
	}
	return errs
}

// ValidateVirtualRouter checks the router's address.
func ValidateVirtualRouter(vr *corev1alpha1.VirtualRouter) field.ErrorList {
	if _, err := netip.ParseAddr(vr.Spec.VirtualRouterIPAddress); err != nil {
		return field.ErrorList{field.Invalid(specPath.Child("virtualRouterIPAddress"), vr.Spec.VirtualRouterIPAddress, "must be an IP address")}
	}
	return nil
}
