package webhook

import (
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
)

func meta(namespace, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: namespace, Name: name}
}

func TestDefaultVirtualNetwork(t *testing.T) {
	g := NewWithT(t)
	vn := &corev1alpha1.VirtualNetwork{ObjectMeta: meta("default", "vn1"), Spec: corev1alpha1.VirtualNetworkSpec{
		V4SubnetReference: &corev1alpha1.ResourceReference{Name: "vn1-v4"},
	}}
	DefaultVirtualNetwork(vn)
	g.Expect(vn.Spec.FQName).To(Equal([]string{"default-domain", "default", "vn1"}))
	g.Expect(vn.Spec.VirtualNetworkProperties.ForwardingMode).To(Equal(corev1alpha1.ForwardingModeL2L3))
	g.Expect(vn.Spec.VirtualNetworkProperties.RPF).To(Equal(corev1alpha1.RPFEnable))
	g.Expect(*vn.Spec.V4SubnetReference).To(Equal(corev1alpha1.ResourceReference{
		APIVersion: "core.contrail.juniper.net/v1alpha1", Kind: "Subnet", Namespace: "default", Name: "vn1-v4"}))

	// What the user set stays.
	vn = &corev1alpha1.VirtualNetwork{ObjectMeta: meta("default", "vn2"), Spec: corev1alpha1.VirtualNetworkSpec{
		CommonSpec:               corev1alpha1.CommonSpec{FQName: []string{"d", "p", "n"}},
		VirtualNetworkProperties: corev1alpha1.VirtualNetworkProperties{ForwardingMode: corev1alpha1.ForwardingModeL3, RPF: corev1alpha1.RPFDisable},
	}}
	DefaultVirtualNetwork(vn)
	g.Expect(vn.Spec.FQName).To(Equal([]string{"d", "p", "n"}))
	g.Expect(vn.Spec.VirtualNetworkProperties).To(Equal(corev1alpha1.VirtualNetworkProperties{ForwardingMode: "l3", RPF: "disable"}))
}

func TestDefaultSubnetGateway(t *testing.T) {
	for cidr, want := range map[string]string{
		"172.16.10.0/24": "172.16.10.1",
		"10.244.0.0/16":  "10.244.0.1",
		"192.168.0.0/30": "192.168.0.1",
		"192.168.0.0/31": "", // no room for a gateway and an interface
		"192.168.0.5/32": "",
		"fd00:10::/64":   "fd00:10::1",
		"172.16.10.5/24": "", // not a network address: validation says so
		"not-a-cidr":     "",
	} {
		sn := &corev1alpha1.Subnet{ObjectMeta: meta("default", "sn"), Spec: corev1alpha1.SubnetSpec{CIDR: cidr}}
		DefaultSubnet(sn)
		if sn.Spec.DefaultGateway != want {
			t.Errorf("gateway of %s = %q, want %q", cidr, sn.Spec.DefaultGateway, want)
		}
		if len(sn.Spec.FQName) != 3 || sn.Spec.FQName[2] != "sn" {
			t.Errorf("fqName of %s = %v", cidr, sn.Spec.FQName)
		}
	}
	sn := &corev1alpha1.Subnet{Spec: corev1alpha1.SubnetSpec{CIDR: "172.16.10.0/24", DefaultGateway: "172.16.10.254"}}
	DefaultSubnet(sn)
	NewWithT(t).Expect(sn.Spec.DefaultGateway).To(Equal("172.16.10.254"))
	services := &corev1alpha1.Subnet{Spec: corev1alpha1.SubnetSpec{CIDR: "10.96.0.0/12", DisableDefaultGateway: true}}
	DefaultSubnet(services)
	NewWithT(t).Expect(services.Spec.DefaultGateway).To(BeEmpty())
}

func TestDefaultOtherKinds(t *testing.T) {
	g := NewWithT(t)

	ri := &corev1alpha1.RoutingInstance{ObjectMeta: meta("default", "vn1"), Spec: corev1alpha1.RoutingInstanceSpec{
		Parent:                corev1alpha1.ResourceReference{Name: "vn1"},
		RouteTargetReferences: []corev1alpha1.RouteTargetReference{{ResourceReference: corev1alpha1.ResourceReference{Name: "target-23-4561"}}},
	}}
	DefaultRoutingInstance(ri)
	g.Expect(ri.Spec.FQName).To(Equal([]string{"default-domain", "default", "vn1", "vn1"}))
	g.Expect(ri.Spec.Parent.Kind).To(Equal("VirtualNetwork"))
	g.Expect(ri.Spec.Parent.Namespace).To(Equal("default"))
	g.Expect(ri.Spec.RouteTargetReferences[0].Kind).To(Equal("RouteTarget"))
	g.Expect(ri.Spec.RouteTargetReferences[0].Namespace).To(BeEmpty())
	g.Expect(ri.Spec.RouteTargetReferences[0].FQName).To(Equal([]string{"target-23-4561"}))

	rt := &corev1alpha1.RouteTarget{ObjectMeta: meta("", "target-64512-8000009")}
	DefaultRouteTarget(rt)
	g.Expect(rt.Spec.FQName).To(Equal([]string{"target-64512-8000009"}))

	// VirtualMachine, VirtualMachineInterface and InstanceIP: api/core/v1alpha1/defaults_test.go.
	vr := &corev1alpha1.VirtualRouter{ObjectMeta: meta("", "node-1")}
	DefaultVirtualRouter(vr)
	g.Expect(vr.Spec.FQName).To(Equal([]string{"default-global-system-config", "node-1"}))

	vnr := &corev1alpha1.VirtualNetworkRouter{ObjectMeta: meta("default", "mesh")}
	DefaultVirtualNetworkRouter(vnr)
	g.Expect(vnr.Spec.FQName).To(Equal([]string{"default-domain", "default", "mesh"}))
}
