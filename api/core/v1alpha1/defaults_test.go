package v1alpha1

import (
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDefaultVirtualMachine(t *testing.T) {
	vm := &VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "k8s-vn1-pod-c478b06e"}, Spec: VirtualMachineSpec{
		ServerNamespace: "default", ServerName: "vn1-pod"}}
	DefaultVirtualMachine(vm)
	want := VirtualMachineSpec{CommonSpec: CommonSpec{FQName: []string{"k8s-vn1-pod-c478b06e"}}, ServerType: ServerTypeContainer,
		ServerNamespace: "default", ServerName: "vn1-pod", Workload: "/default/vn1-pod"}
	if !reflect.DeepEqual(vm.Spec, want) {
		t.Errorf("defaulted VirtualMachine spec = %+v, want %+v", vm.Spec, want)
	}
	// What the writer set stays.
	vm = &VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "vm"}, Spec: VirtualMachineSpec{
		CommonSpec: CommonSpec{FQName: []string{"a", "b"}}, ServerType: ServerTypeVirtualServer, ServerName: "x", Workload: "/elsewhere/x"}}
	before := vm.DeepCopy()
	DefaultVirtualMachine(vm)
	if !reflect.DeepEqual(vm, before) {
		t.Errorf("defaults changed what was set: %+v", vm.Spec)
	}
}

func TestDefaultVirtualMachineInterface(t *testing.T) {
	vmi := &VirtualMachineInterface{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "vn1-pod-b03c1981"}, Spec: VirtualMachineInterfaceSpec{
		VirtualNetworkReference:  ResourceReference{Name: "vn1"},
		VirtualMachineReferences: []ResourceReference{{Name: "k8s-vn1-pod-c478b06e"}},
	}}
	DefaultVirtualMachineInterface(vmi)
	if got, want := vmi.Spec.FQName, []string{"default-domain", "default", "vn1-pod-b03c1981"}; !reflect.DeepEqual(got, want) {
		t.Errorf("fqName = %v, want %v", got, want)
	}
	if got, want := vmi.Spec.VirtualNetworkReference, (ResourceReference{APIVersion: "core.contrail.juniper.net/v1alpha1",
		Kind: "VirtualNetwork", Namespace: "default", Name: "vn1"}); !reflect.DeepEqual(got, want) {
		t.Errorf("network reference = %+v, want %+v", got, want)
	}
	if got := vmi.Spec.VirtualMachineReferences[0]; got.Kind != "VirtualMachine" || got.Namespace != "" || got.APIVersion == "" {
		t.Errorf("VirtualMachine reference = %+v: want its kind and apiVersion, no namespace (cluster-scoped)", got)
	}
	// A network of another namespace stays there.
	vmi = &VirtualMachineInterface{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "x"}, Spec: VirtualMachineInterfaceSpec{
		VirtualNetworkReference: ResourceReference{Namespace: "contrail-k8s-kubemanager-mk-contrail", Name: "default-podnetwork"}}}
	DefaultVirtualMachineInterface(vmi)
	if vmi.Spec.VirtualNetworkReference.Namespace != "contrail-k8s-kubemanager-mk-contrail" {
		t.Errorf("the network's namespace changed to %q", vmi.Spec.VirtualNetworkReference.Namespace)
	}
}

func TestDefaultInstanceIP(t *testing.T) {
	for addr, family := range map[string]IPFamily{"": "v4", "172.16.10.2": "v4", "fd00:10::2": "v6", "::ffff:172.16.10.2": "v4", "garbage": "v4"} {
		iip := &InstanceIP{ObjectMeta: metav1.ObjectMeta{Name: "iip"}, Spec: InstanceIPSpec{
			InstanceIPAddress: addr, VirtualNetworkReference: ResourceReference{Namespace: "default", Name: "vn1"},
			VirtualMachineInterfaceReferences: []ResourceReference{{Namespace: "default", Name: "vmi"}}}}
		DefaultInstanceIP(iip)
		if iip.Spec.InstanceIPFamily != family {
			t.Errorf("family of %q = %q, want %q", addr, iip.Spec.InstanceIPFamily, family)
		}
		if !reflect.DeepEqual(iip.Spec.FQName, []string{"iip"}) || iip.Spec.VirtualNetworkReference.Kind != "VirtualNetwork" ||
			iip.Spec.VirtualMachineInterfaceReferences[0].Kind != "VirtualMachineInterface" {
			t.Errorf("defaulted InstanceIP spec = %+v", iip.Spec)
		}
	}
	// Cluster-scoped: the network's namespace is the writer's to name (the schema requires it).
	iip := &InstanceIP{ObjectMeta: metav1.ObjectMeta{Name: "iip"}, Spec: InstanceIPSpec{VirtualNetworkReference: ResourceReference{Name: "vn1"}}}
	DefaultInstanceIP(iip)
	if iip.Spec.VirtualNetworkReference.Namespace != "" {
		t.Errorf("the network's namespace was defaulted to %q", iip.Spec.VirtualNetworkReference.Namespace)
	}
	// A v4 family with a v6 address is the writer's mistake, not a default's: it stays for validation to refuse.
	iip = &InstanceIP{ObjectMeta: metav1.ObjectMeta{Name: "iip"}, Spec: InstanceIPSpec{InstanceIPAddress: "fd00::2", InstanceIPFamily: IPFamilyV4}}
	DefaultInstanceIP(iip)
	if iip.Spec.InstanceIPFamily != IPFamilyV4 {
		t.Errorf("a set family changed to %q", iip.Spec.InstanceIPFamily)
	}
}

// The defaults are idempotent: a defaulted object is their fixed point.
func TestDefaultsFixedPoint(t *testing.T) {
	vm := &VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: "vm"}, Spec: VirtualMachineSpec{ServerNamespace: "ns", ServerName: "p"}}
	vmi := &VirtualMachineInterface{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "vmi"}, Spec: VirtualMachineInterfaceSpec{
		VirtualNetworkReference: ResourceReference{Name: "vn"}, VirtualMachineReferences: []ResourceReference{{Name: "vm"}}}}
	iip := &InstanceIP{ObjectMeta: metav1.ObjectMeta{Name: "iip"}, Spec: InstanceIPSpec{InstanceIPAddress: "fd00::1",
		VirtualNetworkReference: ResourceReference{Namespace: "ns", Name: "vn"}}}
	DefaultVirtualMachine(vm)
	DefaultVirtualMachineInterface(vmi)
	DefaultInstanceIP(iip)
	vm2, vmi2, iip2 := vm.DeepCopy(), vmi.DeepCopy(), iip.DeepCopy()
	DefaultVirtualMachine(vm2)
	DefaultVirtualMachineInterface(vmi2)
	DefaultInstanceIP(iip2)
	if !reflect.DeepEqual(vm, vm2) || !reflect.DeepEqual(vmi, vmi2) || !reflect.DeepEqual(iip, iip2) {
		t.Error("defaulting a defaulted object changed it")
	}
}

func TestCheckNetworkCluster(t *testing.T) {
	labelled := &VirtualNetwork{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "vn",
		Labels: map[string]string{LabelClusterName: "a"}, Annotations: map[string]string{AnnotationNADClusterName: "b"}}}
	nad := &VirtualNetwork{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "vn", Annotations: map[string]string{AnnotationNADClusterName: "b"}}}
	unknown := &VirtualNetwork{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "vn"}}
	for _, c := range []struct {
		cluster string
		vn      *VirtualNetwork
		want    string
	}{
		{"a", labelled, ""},
		{"b", labelled, `VirtualNetwork default/vn belongs to cluster "a", not to this interface's cluster "b"`}, // the label first
		{"b", nad, ""},
		{"a", nad, `VirtualNetwork default/vn belongs to cluster "b", not to this interface's cluster "a"`},
		{"a", unknown, ""},
		{"", labelled, ""},
	} {
		if got := CheckNetworkCluster(c.cluster, c.vn); got != c.want {
			t.Errorf("CheckNetworkCluster(%q, %v) = %q, want %q", c.cluster, c.vn.ObjectMeta, got, c.want)
		}
	}
}
