package webhook

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
)

// expectErrors checks that errs is empty when want is, and otherwise that
// one error names the field and carries the message.
func expectErrors(t *testing.T, name string, errs field.ErrorList, wantField, wantMessage string) {
	t.Helper()
	if wantField == "" {
		if len(errs) > 0 {
			t.Errorf("%s: unexpected errors: %v", name, errs.ToAggregate())
		}
		return
	}
	for _, e := range errs {
		if e.Field == wantField && strings.Contains(e.Error(), wantMessage) {
			return
		}
	}
	t.Errorf("%s: want an error on %s containing %q, got %v", name, wantField, wantMessage, errs.ToAggregate())
}

func TestValidateSubnet(t *testing.T) {
	cases := []struct {
		name, cidr, gateway, field, message string
	}{
		{"seed subnet", "172.16.10.0/24", "172.16.10.1", "", ""},
		{"ipv6", "fd00:10::/64", "fd00:10::1", "", ""},
		{"no gateway /32", "10.0.0.7/32", "", "", ""},
		{"malformed", "172.16.10.0/33", "", "spec.cidr", "must be a CIDR"},
		{"garbage", "vn1", "", "spec.cidr", "must be a CIDR"},
		{"host bits", "172.16.10.5/24", "", "spec.cidr", "network address of the block: 172.16.10.0/24"},
		{"gateway outside", "172.16.10.0/24", "172.16.11.1", "spec.defaultGateway", "must be inside cidr 172.16.10.0/24"},
		{"gateway network", "172.16.10.0/24", "172.16.10.0", "spec.defaultGateway", "network address"},
		{"gateway broadcast", "172.16.10.0/24", "172.16.10.255", "spec.defaultGateway", "broadcast address"},
		{"gateway not ip", "172.16.10.0/24", "gw", "spec.defaultGateway", "must be an IP address"},
		{"/31 with gateway", "172.16.10.0/31", "172.16.10.1", "spec.cidr", "/30 or shorter"},
	}
	for _, c := range cases {
		sn := &corev1alpha1.Subnet{Spec: corev1alpha1.SubnetSpec{CIDR: c.cidr, DefaultGateway: c.gateway}}
		expectErrors(t, c.name, ValidateSubnet(sn), c.field, c.message)
	}
	old := &corev1alpha1.Subnet{Spec: corev1alpha1.SubnetSpec{CIDR: "172.16.10.0/24"}}
	changed := &corev1alpha1.Subnet{Spec: corev1alpha1.SubnetSpec{CIDR: "172.16.20.0/24"}}
	expectErrors(t, "cidr change", ValidateSubnetUpdate(old, changed), "spec.cidr", "is immutable (was 172.16.10.0/24)")
}

func TestValidateVirtualNetworkRouteTargets(t *testing.T) {
	vn := &corev1alpha1.VirtualNetwork{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "vn1"}, Spec: corev1alpha1.VirtualNetworkSpec{
		RouteTargetList:       []corev1alpha1.RouteTargetString{"target:23:4561"},
		ImportRouteTargetList: []corev1alpha1.RouteTargetString{"target:10.2.2.2:561"},
		ExportRouteTargetList: []corev1alpha1.RouteTargetString{"target:10.1.1.1:561"},
	}}
	expectErrors(t, "seed vn1", ValidateVirtualNetwork(vn), "", "")

	vn.Spec.ImportRouteTargetList = append(vn.Spec.ImportRouteTargetList, "target:70000:70000")
	expectErrors(t, "4-byte ASN, big number", ValidateVirtualNetwork(vn), "spec.importRouteTargetList[1]", "at most 65535")

	// The controller's range: importing another network's system route target.
	vn.Spec.ImportRouteTargetList = []corev1alpha1.RouteTargetString{"target:64512:8000001"}
	expectErrors(t, "system route target", ValidateVirtualNetwork(vn), "spec.importRouteTargetList[0]", "target:<AS>:8000000 and above are the controller's")
	vn.Spec.ImportRouteTargetList = []corev1alpha1.RouteTargetString{"target:64512:7999999", "target:10.1.1.1:65535", "target:70000:65535"}
	expectErrors(t, "just below the controller's range", ValidateVirtualNetwork(vn), "", "")

	// A Subnet may serve networks of other namespaces (an isolated namespace's pod network).
	vn.Spec.ImportRouteTargetList = nil
	vn.Spec.V4SubnetReference = &corev1alpha1.ResourceReference{Namespace: "other", Name: "vn1-v4"}
	expectErrors(t, "subnet elsewhere", ValidateVirtualNetwork(vn), "", "")
}

func TestValidateOtherKinds(t *testing.T) {
	rt := &corev1alpha1.RouteTarget{ObjectMeta: metav1.ObjectMeta{Name: "target-64512-8000009"}}
	expectErrors(t, "route target", ValidateRouteTarget(rt), "", "")
	rt.Name = "target-10.1.1.1-65536"
	expectErrors(t, "route target range", ValidateRouteTarget(rt), "metadata.name", "at most 65535")

	vmi := &corev1alpha1.VirtualMachineInterface{Spec: corev1alpha1.VirtualMachineInterfaceSpec{
		VirtualNetworkReference:             corev1alpha1.ResourceReference{Namespace: "default", Name: "vn1"},
		VirtualMachineInterfaceMacAddresses: corev1alpha1.MACAddresses{MACAddress: []corev1alpha1.MACAddress{"02:21:0f:f6:47:fc"}},
		InterfaceName:                       "eth1",
	}}
	expectErrors(t, "vmi", ValidateVirtualMachineInterface(vmi), "", "")
	vmi.Spec.VirtualMachineInterfaceMacAddresses.MACAddress[0] = "02:21:0f:f6:47"
	expectErrors(t, "vmi mac", ValidateVirtualMachineInterface(vmi), "spec.virtualMachineInterfaceMacAddresses.macAddress[0]", "must be a MAC address")
	moved := vmi.DeepCopy()
	moved.Spec.VirtualNetworkReference.Name = "vn2"
	expectErrors(t, "vmi network change", ValidateVirtualMachineInterfaceUpdate(vmi, moved), "spec.virtualNetworkReference", "is immutable")

	iip := &corev1alpha1.InstanceIP{Spec: corev1alpha1.InstanceIPSpec{
		InstanceIPAddress: "172.16.10.2", InstanceIPFamily: "v6",
		VirtualNetworkReference: corev1alpha1.ResourceReference{Namespace: "default", Name: "vn1"},
	}}
	expectErrors(t, "iip family", ValidateInstanceIP(iip), "spec.instanceIPAddress", "not of instanceIPFamily v6")
	iip.Spec.InstanceIPFamily = "v4"
	iip.Spec.VirtualNetworkReference.Namespace = ""
	expectErrors(t, "iip network namespace", ValidateInstanceIP(iip), "spec.virtualNetworkReference.namespace", "cluster-scoped")

	vnr := &corev1alpha1.VirtualNetworkRouter{Spec: corev1alpha1.VirtualNetworkRouterSpec{
		Type:                   corev1alpha1.VirtualNetworkRouterMesh,
		VirtualNetworkSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"bad key!": "x"}},
	}}
	expectErrors(t, "vnr selector", ValidateVirtualNetworkRouter(vnr), "spec.virtualNetworkSelector.matchLabels", "")

	vr := &corev1alpha1.VirtualRouter{Spec: corev1alpha1.VirtualRouterSpec{VirtualRouterIPAddress: "192.168.177.470"}}
	expectErrors(t, "vr ip", ValidateVirtualRouter(vr), "spec.virtualRouterIPAddress", "must be an IP address")
}

func TestVirtualNetworkWarnings(t *testing.T) {
	pod := map[string]string{corev1alpha1.LabelDefaultNetwork: corev1alpha1.DefaultNetworkPod}
	service := map[string]string{corev1alpha1.LabelDefaultNetwork: corev1alpha1.DefaultNetworkService}
	for _, tc := range []struct {
		name         string
		labels       map[string]string
		snat, fwd    bool
		wantPrefixes []string
	}{
		{"nothing set", nil, false, false, nil},
		{"fabricSNAT on the pod network", pod, true, false, nil},
		{"fabricSNAT on another network", nil, true, false, []string{"spec.fabricSNAT"}},
		{"fabricSNAT on the service network", service, true, false, []string{"spec.fabricSNAT"}},
		{"fabricForwarding on the pod network", pod, false, true, nil},
		{"fabricForwarding on a NAD's network", nil, false, true, nil},
		{"both on a NAD's network: SNAT ignored", nil, true, true, []string{"spec.fabricSNAT is ignored: spec.fabricForwarding takes precedence"}},
		{"both on the pod network: SNAT ignored", pod, true, true, []string{"spec.fabricSNAT is ignored"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vn := &corev1alpha1.VirtualNetwork{}
			vn.Labels = tc.labels
			vn.Spec.FabricSNAT, vn.Spec.FabricForwarding = tc.snat, tc.fwd
			got := VirtualNetworkWarnings(vn)
			if len(got) != len(tc.wantPrefixes) {
				t.Fatalf("warnings %q, want %d", got, len(tc.wantPrefixes))
			}
			for i, p := range tc.wantPrefixes {
				if !strings.HasPrefix(got[i], p) {
					t.Errorf("warning %d %q does not name %s", i, got[i], p)
				}
			}
		})
	}
}
