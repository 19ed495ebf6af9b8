package envtest

import (
	"fmt"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
)

// The core API's admission, against the real apiserver with the apiserver
// component's webhooks: what the schema (OpenAPI + CEL) and the webhook
// reject, with a message that names the field and the bad value, and what
// they default.

var (
	objectCount int
	vnRef       = corev1alpha1.ResourceReference{Namespace: "default", Name: "vn1"}
)

// uniqueName keeps the table's objects from colliding.
func uniqueName(prefix string) string {
	objectCount++
	return fmt.Sprintf("%s-%d", prefix, objectCount)
}

func ns(prefix string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: "default", Name: uniqueName(prefix)}
}

func cluster(prefix string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: uniqueName(prefix)}
}

func subnet(cidr, gateway string) *corev1alpha1.Subnet {
	return &corev1alpha1.Subnet{ObjectMeta: ns("sn"), Spec: corev1alpha1.SubnetSpec{CIDR: cidr, DefaultGateway: gateway}}
}

func networkWithRT(rt string) *corev1alpha1.VirtualNetwork {
	return &corev1alpha1.VirtualNetwork{ObjectMeta: ns("vn"), Spec: corev1alpha1.VirtualNetworkSpec{
		RouteTargetList: []corev1alpha1.RouteTargetString{corev1alpha1.RouteTargetString(rt)}}}
}

// create creates obj and removes it after the spec.
func create(obj client.Object) error {
	err := k8sClient.Create(ctx, obj)
	if err == nil {
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, obj))).To(Succeed()) })
	}
	return err
}

// update applies change to the latest obj until the apiserver answers with
// something other than a conflict (the controller writes these objects too).
func update[T client.Object](obj T, change func(T)) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		change(obj)
		return k8sClient.Update(ctx, obj)
	})
}

var _ = Describe("Admission of the core API", func() {
	DescribeTable("rejects bad input at create time with a message naming the field",
		func(obj client.Object, messages ...string) {
			err := k8sClient.Create(ctx, obj)
			Expect(err).To(HaveOccurred(), "the apiserver accepted %T %s", obj, obj.GetName())
			for _, m := range messages {
				Expect(err.Error()).To(ContainSubstring(m))
			}
		},
		Entry("Subnet: malformed CIDR", subnet("172.16.10.0/33", ""), "spec.cidr", `"172.16.10.0/33"`, "must be a CIDR"),
		Entry("Subnet: not a CIDR", subnet("vn1", ""), "spec.cidr", "must be a CIDR"),
		Entry("Subnet: host bits set", subnet("172.16.10.5/24", ""), "spec.cidr", "network address"),
		Entry("Subnet: IPv4 /31 with a gateway", subnet("172.16.10.0/31", "172.16.10.1"), "spec", "/30 or shorter"),
		Entry("Subnet: gateway outside the CIDR", subnet("172.16.10.0/24", "172.16.11.1"), "defaultGateway", "must be inside cidr"),
		Entry("Subnet: gateway is the network address", subnet("172.16.10.0/24", "172.16.10.0"), "defaultGateway", "network address"),
		Entry("Subnet: gateway is the broadcast address", subnet("172.16.10.0/24", "172.16.10.255"), "spec.defaultGateway", `"172.16.10.255"`, "broadcast address"),
		Entry("Subnet: gateway not an IP", subnet("172.16.10.0/24", "gw"), "spec.defaultGateway", "must be an IP address"),
		Entry("Subnet: a gateway on a subnet without one", &corev1alpha1.Subnet{ObjectMeta: ns("sn"), Spec: corev1alpha1.SubnetSpec{
			CIDR: "10.96.0.0/12", DefaultGateway: "10.96.0.1", DisableDefaultGateway: true}}, "spec", "defaultGateway must be empty when disableDefaultGateway is true"),
		Entry("VirtualNetwork: malformed route target", networkWithRT("23:4561"), "spec.routeTargetList[0]", "target:<ASN>:<number>"),
		Entry("VirtualNetwork: route target number out of range after an IPv4", networkWithRT("target:10.1.1.1:65536"), "spec.routeTargetList[0]", "out of range"),
		Entry("VirtualNetwork: 4-byte ASN with a 4-byte number", networkWithRT("target:70000:70000"), "spec.routeTargetList[0]", "out of range"),
		Entry("VirtualNetwork: ASN 0", networkWithRT("target:0:1"), "spec.routeTargetList[0]", "out of range"),
		Entry("VirtualNetwork: a route target of the controller's (another network's)", networkWithRT("target:64512:8000001"), "spec.routeTargetList[0]", "target:<AS>:8000000 and above are the controller's"),
		Entry("VirtualNetwork: unknown forwarding mode", &corev1alpha1.VirtualNetwork{ObjectMeta: ns("vn"), Spec: corev1alpha1.VirtualNetworkSpec{
			VirtualNetworkProperties: corev1alpha1.VirtualNetworkProperties{ForwardingMode: "l4"}}},
			"spec.virtualNetworkProperties.forwardingMode", `"l4"`, "supported values"),
		Entry("VirtualNetwork: unknown rpf", &corev1alpha1.VirtualNetwork{ObjectMeta: ns("vn"), Spec: corev1alpha1.VirtualNetworkSpec{
			VirtualNetworkProperties: corev1alpha1.VirtualNetworkProperties{RPF: "maybe"}}},
			"spec.virtualNetworkProperties.rpf", `"maybe"`),
		Entry("RouteTarget: malformed name", &corev1alpha1.RouteTarget{ObjectMeta: cluster("rt")}, "metadata.name", "target-<ASN>-<number>"),
		Entry("RouteTarget: number out of range", &corev1alpha1.RouteTarget{ObjectMeta: metav1.ObjectMeta{Name: "target-10.1.1.1-65536"}},
			"metadata.name", `"target-10.1.1.1-65536"`, "at most 65535"),
		Entry("RoutingInstance: parent not a VirtualNetwork", &corev1alpha1.RoutingInstance{ObjectMeta: ns("ri"), Spec: corev1alpha1.RoutingInstanceSpec{
			Parent: corev1alpha1.ResourceReference{Kind: "Subnet", Name: "vn1"}}}, "spec.parent", "must reference a VirtualNetwork"),
		Entry("VirtualMachine: unknown type", &corev1alpha1.VirtualMachine{ObjectMeta: cluster("vm"), Spec: corev1alpha1.VirtualMachineSpec{ServerType: "pod"}},
			"spec.serverType", `"pod"`, "supported values"),
		Entry("VirtualMachineInterface: malformed MAC", &corev1alpha1.VirtualMachineInterface{ObjectMeta: ns("vmi"), Spec: corev1alpha1.VirtualMachineInterfaceSpec{
			VirtualNetworkReference:             vnRef,
			VirtualMachineInterfaceMacAddresses: corev1alpha1.MACAddresses{MACAddress: []corev1alpha1.MACAddress{"02:21:0f:f6:47"}}}},
			"spec.virtualMachineInterfaceMacAddresses.macAddress[0]", "must be a MAC address"),
		Entry("VirtualMachineInterface: interface name too long", &corev1alpha1.VirtualMachineInterface{ObjectMeta: ns("vmi"), Spec: corev1alpha1.VirtualMachineInterfaceSpec{
			VirtualNetworkReference: vnRef, InterfaceName: "eth-much-too-long0"}}, "spec.interfaceName"),
		Entry("VirtualMachineInterface: no network name", &corev1alpha1.VirtualMachineInterface{ObjectMeta: ns("vmi"), Spec: corev1alpha1.VirtualMachineInterfaceSpec{
			VirtualNetworkReference: corev1alpha1.ResourceReference{Name: ""}}}, `spec.virtualNetworkReference.name: Required value: the VirtualNetwork's name`),
		Entry("InstanceIP: no network name", &corev1alpha1.InstanceIP{ObjectMeta: cluster("iip"), Spec: corev1alpha1.InstanceIPSpec{
			VirtualNetworkReference: corev1alpha1.ResourceReference{Namespace: "default"}}}, `spec.virtualNetworkReference.name: Required value: the VirtualNetwork's name`),
		Entry("InstanceIP: malformed address", &corev1alpha1.InstanceIP{ObjectMeta: cluster("iip"), Spec: corev1alpha1.InstanceIPSpec{
			InstanceIPAddress: "172.16.10.300", VirtualNetworkReference: vnRef}}, "spec.instanceIPAddress", "must be an IP address"),
		Entry("InstanceIP: unknown family", &corev1alpha1.InstanceIP{ObjectMeta: cluster("iip"), Spec: corev1alpha1.InstanceIPSpec{
			InstanceIPFamily: "v5", VirtualNetworkReference: vnRef}}, "spec.instanceIPFamily", `"v5"`),
		Entry("InstanceIP: address of the other family", &corev1alpha1.InstanceIP{ObjectMeta: cluster("iip"), Spec: corev1alpha1.InstanceIPSpec{
			InstanceIPAddress: "fd00::2", InstanceIPFamily: "v4", VirtualNetworkReference: vnRef}}, "spec", "instanceIPFamily"),
		Entry("InstanceIP: network without a namespace", &corev1alpha1.InstanceIP{ObjectMeta: cluster("iip"), Spec: corev1alpha1.InstanceIPSpec{
			VirtualNetworkReference: corev1alpha1.ResourceReference{Name: "vn1"}}}, "spec.virtualNetworkReference.namespace", "cluster-scoped"),
		Entry("VirtualNetworkRouter: unknown type", &corev1alpha1.VirtualNetworkRouter{ObjectMeta: ns("vnr"), Spec: corev1alpha1.VirtualNetworkRouterSpec{Type: "star"}},
			"spec.type", `"star"`, "supported values"),
		Entry("VirtualNetworkRouter: invalid selector", &corev1alpha1.VirtualNetworkRouter{ObjectMeta: ns("vnr"), Spec: corev1alpha1.VirtualNetworkRouterSpec{
			Type: "mesh", VirtualNetworkSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"bad key!": "x"}}}},
			"spec.virtualNetworkSelector.matchLabels", "bad key!"),
		Entry("VirtualRouter: malformed IP", &corev1alpha1.VirtualRouter{ObjectMeta: cluster("vr"), Spec: corev1alpha1.VirtualRouterSpec{
			VirtualRouterIPAddress: "192.168.177.470"}}, "spec.virtualRouterIPAddress", "must be an IP address"),
	)

	It("warns about the VirtualNetwork fields Kontrail accepts and does not implement there, or overrides", func() {
		warnings := &warningRecorder{}
		c := rest.CopyConfig(cfg)
		c.WarningHandler = warnings
		wc, err := client.New(c, client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
		// fabricForwarding takes precedence over fabricSNAT: SNAT ignored,
		// one warning (not the pod-network-only one besides).
		vn := &corev1alpha1.VirtualNetwork{ObjectMeta: ns("vn-fabric"), Spec: corev1alpha1.VirtualNetworkSpec{FabricSNAT: true, FabricForwarding: true}}
		Expect(wc.Create(ctx, vn)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, vn))).To(Succeed()) })
		Expect(warnings.all()).To(ConsistOf(ContainSubstring("spec.fabricSNAT is ignored: spec.fabricForwarding takes precedence")))
		// The pod network (kubemanager's label) implements fabricSNAT: no warning for it.
		warnings.reset()
		pod := &corev1alpha1.VirtualNetwork{ObjectMeta: ns("vn-pods"), Spec: corev1alpha1.VirtualNetworkSpec{FabricSNAT: true}}
		pod.Labels = map[string]string{corev1alpha1.LabelDefaultNetwork: corev1alpha1.DefaultNetworkPod}
		Expect(wc.Create(ctx, pod)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, pod))).To(Succeed()) })
		Expect(warnings.all()).To(BeEmpty())
		// An update warns too. The controller writes the network as well,
		// so an update is retried on a conflict, and only the last
		// attempt's warnings count.
		update := func(snat, forwarding bool) {
			GinkgoHelper()
			Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
				warnings.reset()
				if err := wc.Get(ctx, client.ObjectKeyFromObject(vn), vn); err != nil {
					return err
				}
				vn.Spec.FabricSNAT, vn.Spec.FabricForwarding = snat, forwarding
				return wc.Update(ctx, vn)
			})).To(Succeed())
		}
		// fabricSNAT alone, off the pod network: not implemented there.
		update(true, false)
		Expect(warnings.all()).To(ConsistOf(ContainSubstring("spec.fabricSNAT is implemented on the cluster's pod network only")))
		// fabricForwarding alone is implemented on any network: no warning.
		update(false, true)
		Expect(warnings.all()).To(BeEmpty())
	})

	It("defaults valid objects: the seed's vn1, its subnet, a VMI and an InstanceIP", func() {
		sn := &corev1alpha1.Subnet{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "seed-vn1-v4"},
			Spec: corev1alpha1.SubnetSpec{CIDR: "172.16.10.0/24"}}
		Expect(create(sn)).To(Succeed())
		Expect(sn.Spec.DefaultGateway).To(Equal("172.16.10.1"))
		Expect(sn.Spec.FQName).To(Equal([]string{"default-domain", "default", "seed-vn1-v4"}))

		vn := &corev1alpha1.VirtualNetwork{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "seed-vn1"},
			Spec: corev1alpha1.VirtualNetworkSpec{
				V4SubnetReference:     &corev1alpha1.ResourceReference{Name: "seed-vn1-v4"},
				RouteTargetList:       []corev1alpha1.RouteTargetString{"target:23:4561"},
				ImportRouteTargetList: []corev1alpha1.RouteTargetString{"target:10.2.2.2:561"},
				ExportRouteTargetList: []corev1alpha1.RouteTargetString{"target:10.1.1.1:561"},
			}}
		Expect(create(vn)).To(Succeed())
		got := &corev1alpha1.VirtualNetwork{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(vn), got)).To(Succeed())
		Expect(got.Spec.FQName).To(Equal([]string{"default-domain", "default", "seed-vn1"}))
		Expect(got.Spec.VirtualNetworkProperties).To(Equal(corev1alpha1.VirtualNetworkProperties{ForwardingMode: "l2_l3", RPF: "enable"}))
		Expect(got.Spec.FabricSNAT).To(BeFalse())
		Expect(got.Spec.V4SubnetReference.Kind).To(Equal("Subnet"))
		Expect(got.Spec.V4SubnetReference.Namespace).To(Equal("default"))
		Expect(got.Spec.RouteTargetList).To(ConsistOf(corev1alpha1.RouteTargetString("target:23:4561")))

		vmi := &corev1alpha1.VirtualMachineInterface{ObjectMeta: ns("vn1-pod"), Spec: corev1alpha1.VirtualMachineInterfaceSpec{
			VirtualNetworkReference: corev1alpha1.ResourceReference{Name: "seed-vn1"}, InterfaceName: "eth1", PodName: "vn1-pod"}}
		Expect(create(vmi)).To(Succeed())
		Expect(vmi.Spec.VirtualNetworkReference).To(Equal(corev1alpha1.ResourceReference{
			APIVersion: "core.contrail.juniper.net/v1alpha1", Kind: "VirtualNetwork", Namespace: "default", Name: "seed-vn1"}))

		iip := &corev1alpha1.InstanceIP{ObjectMeta: cluster("vn1-pod"), Spec: corev1alpha1.InstanceIPSpec{
			InstanceIPAddress: "172.16.10.2", VirtualNetworkReference: corev1alpha1.ResourceReference{Namespace: "default", Name: "seed-vn1"}}}
		Expect(create(iip)).To(Succeed())
		Expect(iip.Spec.InstanceIPFamily).To(Equal(corev1alpha1.IPFamilyV4))

		vm := &corev1alpha1.VirtualMachine{ObjectMeta: cluster("k8s-vn1-pod"), Spec: corev1alpha1.VirtualMachineSpec{
			ServerNamespace: "default", ServerName: "vn1-pod"}}
		Expect(create(vm)).To(Succeed())
		Expect(vm.Spec.ServerType).To(Equal(corev1alpha1.ServerTypeContainer))
		Expect(vm.Spec.Workload).To(Equal("/default/vn1-pod"))

		rt := &corev1alpha1.RouteTarget{ObjectMeta: metav1.ObjectMeta{Name: "target-64512-8000009"}}
		Expect(create(rt)).To(Succeed())
		Expect(rt.Spec.FQName).To(Equal([]string{"target-64512-8000009"}))

		vr := &corev1alpha1.VirtualRouter{ObjectMeta: cluster("node"), Spec: corev1alpha1.VirtualRouterSpec{VirtualRouterIPAddress: "192.168.177.47"}}
		Expect(create(vr)).To(Succeed())
		Expect(vr.Spec.FQName).To(Equal([]string{"default-global-system-config", vr.Name}))
	})

	Context("checks that read other objects", func() {
		var vn *corev1alpha1.VirtualNetwork

		BeforeEach(func() {
			name := uniqueName("net")
			sn4 := &corev1alpha1.Subnet{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name + "-v4",
				Labels: map[string]string{corev1alpha1.LabelSubnetVirtualNetwork: name}},
				Spec: corev1alpha1.SubnetSpec{CIDR: "172.16.20.0/24"}}
			Expect(create(sn4)).To(Succeed())
			vn = &corev1alpha1.VirtualNetwork{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name,
				Annotations: map[string]string{corev1alpha1.AnnotationNADClusterName: "cluster-a"}},
				Spec: corev1alpha1.VirtualNetworkSpec{V4SubnetReference: &corev1alpha1.ResourceReference{Name: sn4.Name}}}
			Expect(create(vn)).To(Succeed())
		})

		It("rejects a Subnet that overlaps another Subnet of the same network", func() {
			overlapping := &corev1alpha1.Subnet{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: vn.Name + "-extra",
				Labels: map[string]string{corev1alpha1.LabelSubnetVirtualNetwork: vn.Name}},
				Spec: corev1alpha1.SubnetSpec{CIDR: "172.16.20.128/25"}}
			err := create(overlapping)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring(`spec.cidr: Invalid value: "172.16.20.128/25": overlaps Subnet ` + vn.Name + "-v4 (172.16.20.0/24)"))

			// The same block in another network is fine.
			elsewhere := overlapping.DeepCopy()
			elsewhere.Labels[corev1alpha1.LabelSubnetVirtualNetwork] = "another-network"
			Expect(create(elsewhere)).To(Succeed())
		})

		It("rejects a change of a Subnet's CIDR", func() {
			sn := &corev1alpha1.Subnet{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: vn.Name + "-v4"}}
			err := update(sn, func(sn *corev1alpha1.Subnet) {
				sn.Spec.CIDR = "172.16.30.0/24"
				sn.Spec.DefaultGateway = "172.16.30.1"
			})
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring("spec.cidr"))
			Expect(err.Error()).To(ContainSubstring("immutable"))
		})

		It("rejects a v6 reference to an IPv4 Subnet", func() {
			bad := &corev1alpha1.VirtualNetwork{ObjectMeta: ns("vn"), Spec: corev1alpha1.VirtualNetworkSpec{
				V6SubnetReference: &corev1alpha1.ResourceReference{Name: vn.Name + "-v4"}}}
			err := create(bad)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring("spec.v6SubnetReference.name"))
			Expect(err.Error()).To(ContainSubstring("other address family"))
		})

		It("rejects an InstanceIP address outside its network's subnets and accepts one inside", func() {
			outside := &corev1alpha1.InstanceIP{ObjectMeta: cluster("iip"), Spec: corev1alpha1.InstanceIPSpec{
				InstanceIPAddress: "172.16.21.5", VirtualNetworkReference: corev1alpha1.ResourceReference{Namespace: "default", Name: vn.Name}}}
			err := create(outside)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring(`spec.instanceIPAddress: Invalid value: "172.16.21.5": is outside the subnets of VirtualNetwork default/` + vn.Name))

			inside := outside.DeepCopy()
			inside.Spec.InstanceIPAddress = "172.16.20.5"
			Expect(create(inside)).To(Succeed())

			err = update(inside.DeepCopy(), func(iip *corev1alpha1.InstanceIP) { iip.Spec.InstanceIPAddress = "172.16.20.6" })
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring(`spec.instanceIPAddress: Invalid value: "172.16.20.6": is immutable once set`))
		})

		It("rejects an interface on a network of another cluster, and a change of an interface's network", func() {
			other := &corev1alpha1.VirtualMachineInterface{ObjectMeta: ns("vmi"), Spec: corev1alpha1.VirtualMachineInterfaceSpec{
				ClusterName: "cluster-b", VirtualNetworkReference: corev1alpha1.ResourceReference{Name: vn.Name}}}
			err := create(other)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring(`belongs to cluster "cluster-a", not to this interface's cluster "cluster-b"`))

			own := other.DeepCopy()
			own.Spec.ClusterName = "cluster-a"
			Expect(create(own)).To(Succeed())
			err = update(own, func(vmi *corev1alpha1.VirtualMachineInterface) { vmi.Spec.VirtualNetworkReference.Name = "vn-other" })
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring("spec.virtualNetworkReference"))
			Expect(err.Error()).To(ContainSubstring("immutable"))
		})
	})
})

// warningRecorder keeps the apiserver's warnings to a client.
type warningRecorder struct {
	mu       sync.Mutex
	messages []string
}

func (w *warningRecorder) HandleWarningHeader(_ int, _ string, message string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.messages = append(w.messages, message)
}

func (w *warningRecorder) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.messages...)
}

func (w *warningRecorder) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.messages = nil
}
