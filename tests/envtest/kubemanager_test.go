package envtest

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
	"github.com/kontrail/kontrail/components/kubemanager/kubemanager"
)

// The kubemanager component with the controller and the webhooks, against
// the real apiserver: the seeds' NADs and pods, as their users wrote them.

const (
	clusterNamespace = "contrail-k8s-kubemanager-mk-contrail"
	contrailConfig   = `{"cniVersion": "0.3.1", "name": "%s", "type": "contrail-k8s-cni"}`
)

// nad creates a NetworkAttachmentDefinition with annotations and removes it
// after the spec.
func nad(namespace, name string, annotations map[string]string) *nadv1.NetworkAttachmentDefinition {
	GinkgoHelper()
	n := &nadv1.NetworkAttachmentDefinition{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Annotations: annotations},
		Spec: nadv1.NetworkAttachmentDefinitionSpec{Config: fmt.Sprintf(contrailConfig, name)}}
	Expect(create(n)).To(Succeed())
	return n
}

// namespace creates a namespace (never deleted: envtest has no namespace controller).
func namespace(name string) {
	GinkgoHelper()
	err := k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	Expect(client.IgnoreAlreadyExists(err)).To(Succeed())
}

// pod creates a pod with a networks annotation; it is deleted at once
// after the spec (there is no kubelet to finish a graceful deletion).
func pod(namespace, name, networks string) *corev1.Pod {
	GinkgoHelper()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"sleep", "3600"}}}}}
	if networks != "" {
		p.Annotations = map[string]string{nadv1.NetworkAttachmentAnnot: networks}
	}
	Expect(k8sClient.Create(ctx, p)).To(Succeed())
	DeferCleanup(func() { deletePod(p) })
	return p
}

func deletePod(p *corev1.Pod) {
	GinkgoHelper()
	Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, p, client.GracePeriodSeconds(0)))).To(Succeed())
}

// annotation reads one annotation of obj.
func annotation(obj client.Object, key string) func() string {
	return func() string {
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err.Error()
		}
		return obj.GetAnnotations()[key]
	}
}

// networkStatus waits for the pod's network-status and returns it.
func networkStatus(p *corev1.Pod) []nadv1.NetworkStatus {
	GinkgoHelper()
	Eventually(annotation(p, nadv1.NetworkStatusAnnot)).ShouldNot(BeEmpty(), "pod %s/%s: %s", p.Namespace, p.Name,
		annotation(p, kubemanager.AnnotationNetworksStatus)())
	var st []nadv1.NetworkStatus
	Expect(json.Unmarshal([]byte(p.Annotations[nadv1.NetworkStatusAnnot]), &st)).To(Succeed())
	return st
}

// interfaces summarises a network-status as "<interface> <name> <default>".
func interfaces(st []nadv1.NetworkStatus) []string {
	var out []string
	for _, s := range st {
		out = append(out, fmt.Sprintf("%s %s %v", s.Interface, s.Name, s.Default))
	}
	return out
}

// podObjects counts what kubemanager made for a pod.
func podObjects(p *corev1.Pod) func() string {
	return func() string {
		key := p.Namespace + "/" + p.Name
		count := func(list client.ObjectList, items func() []metav1.Object) int {
			Expect(k8sClient.List(ctx, list)).To(Succeed())
			n := 0
			for _, o := range items() {
				if o.GetAnnotations()[kubemanager.AnnotationPod] == key {
					n++
				}
			}
			return n
		}
		var vms corev1alpha1.VirtualMachineList
		var vmis corev1alpha1.VirtualMachineInterfaceList
		var iips corev1alpha1.InstanceIPList
		return fmt.Sprintf("vm=%d vmi=%d iip=%d",
			count(&vms, func() []metav1.Object { return metas(vms.Items) }),
			count(&vmis, func() []metav1.Object { return metas(vmis.Items) }),
			count(&iips, func() []metav1.Object { return metas(iips.Items) }))
	}
}

func metas[T any, PT interface {
	*T
	metav1.Object
}](items []T) []metav1.Object {
	out := make([]metav1.Object, len(items))
	for i := range items {
		out[i] = PT(&items[i])
	}
	return out
}

func gone(obj client.Object) func() bool {
	return func() bool { return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj)) }
}

var _ = Describe("kubemanager", func() {
	It("makes the cluster's default pod and service networks", func() {
		for _, name := range []string{"default-podnetwork", "default-servicenetwork"} {
			vn := &corev1alpha1.VirtualNetwork{ObjectMeta: metav1.ObjectMeta{Namespace: clusterNamespace, Name: name}}
			Eventually(stateOf(vn)).Should(Equal("Success"))
		}
		Expect(get(&corev1alpha1.Subnet{ObjectMeta: metav1.ObjectMeta{Namespace: clusterNamespace, Name: "default-podnetwork-v4"}}).Spec.CIDR).
			To(Equal("10.244.0.0/16"))

		By("a default network deleted or changed by hand is repaired")
		svc := &corev1alpha1.VirtualNetwork{ObjectMeta: metav1.ObjectMeta{Namespace: clusterNamespace, Name: "default-servicenetwork"}}
		old := get(svc).UID
		Expect(k8sClient.Delete(ctx, svc)).To(Succeed())
		// Not get(): between the delete and the repair the network is
		// briefly not found, and get() fails the spec on that.
		Eventually(func() bool {
			again := &corev1alpha1.VirtualNetwork{}
			return k8sClient.Get(ctx, client.ObjectKeyFromObject(svc), again) == nil && again.UID != old
		}).Should(BeTrue())
		Eventually(stateOf(svc)).Should(Equal("Success"))
		Expect(update(svc, func(vn *corev1alpha1.VirtualNetwork) { vn.Spec.V4SubnetReference = nil })).To(Succeed())
		Eventually(func() *corev1alpha1.ResourceReference { return get(svc).Spec.V4SubnetReference }).ShouldNot(BeNil())
		// A label edited (no new generation: kubemanager skips status-only
		// changes, not this) is repaired too.
		Expect(update(svc, func(vn *corev1alpha1.VirtualNetwork) {
			vn.Labels[corev1alpha1.LabelDefaultNetwork] = corev1alpha1.DefaultNetworkPod
		})).To(Succeed())
		Eventually(func() string { return get(svc).Labels[corev1alpha1.LabelDefaultNetwork] }).Should(Equal(corev1alpha1.DefaultNetworkService))
	})

	It("replays seed 004: NAD vn1, its network, pod vn1-pod with eth0 and eth1, VN recreated, all removed", func() {
		n := nad("default", "vn1", map[string]string{kubemanager.AnnotationNetworks: `{
        "ipamV4Subnet": "172.16.10.0/24",

        "routeTargetList": ["target:23:4561"],
        "importRouteTargetList": ["target:10.2.2.2:561"],
        "exportRouteTargetList": ["target:10.1.1.1:561"]

      }`})
		By("kubectl apply -f nad-demo.yaml: juniper.net/networks-status and the finalizer")
		Eventually(annotation(n, kubemanager.AnnotationNetworksStatus)).Should(Equal("success creating VirtualNetwork vn1 v4Subnet: 172.16.10.0/24"))
		Expect(n.Finalizers).To(ContainElement("virtual-network.finalizers.kube-manager.juniper.net"))

		By("kubectl get vn, subnet: vn1 and vn1-v4")
		vn := &corev1alpha1.VirtualNetwork{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "vn1"}}
		Eventually(stateOf(vn)).Should(Equal("Success"))
		Expect(vn.Annotations).To(Equal(map[string]string{"juniper.net/nad-cluster-name": "contrail-k8s-kubemanager-mk",
			"juniper.net/nad-name": "vn1", "juniper.net/nad-namespace": "default"}))
		Expect(vn.Status.IPFamilies).To(Equal("v4"))
		Expect(vn.Spec.RouteTargetList).To(ConsistOf(corev1alpha1.RouteTargetString("target:23:4561")))
		Expect(get(&corev1alpha1.Subnet{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "vn1-v4"}}).Spec.CIDR).To(Equal("172.16.10.0/24"))

		By("kubectl apply -f vn-pod.yaml: network-status with eth0 and eth1")
		p := pod("default", "vn1-pod", "vn1")
		st := networkStatus(p)
		Expect(interfaces(st)).To(Equal([]string{
			"eth0 " + clusterNamespace + "/default-podnetwork true",
			"eth1 default/vn1 false",
		}))
		Expect(netip.MustParsePrefix("10.244.0.0/16").Contains(netip.MustParseAddr(st[0].IPs[0]))).To(BeTrue())
		Expect(st[1].IPs).To(Equal([]string{"172.16.10.2"}))
		for _, s := range st {
			Expect(s.Mac).To(MatchRegexp(`^02(:[0-9a-f]{2}){5}$`))
		}
		Expect(p.Annotations[kubemanager.AnnotationVMUUID]).NotTo(BeEmpty())
		Eventually(podObjects(p)).Should(Equal("vm=1 vmi=2 iip=2"))
		Eventually(subnetUsage("default", "vn1-v4")).Should(Equal("4 1.56%"))

		By("kubectl get vm, vmi: the workload and the interfaces' networks")
		vm := &corev1alpha1.VirtualMachine{}
		var vms corev1alpha1.VirtualMachineList
		Expect(k8sClient.List(ctx, &vms)).To(Succeed())
		for _, v := range vms.Items {
			if string(v.UID) == p.Annotations[kubemanager.AnnotationVMUUID] {
				vm = &v
			}
		}
		Expect(vm.Spec.Workload).To(Equal("/default/vn1-pod"))
		// Created with its state (nothing to allocate): no second write.
		Expect(vm.Status.State).To(Equal(corev1alpha1.StateSuccess))
		Expect([]int64{vm.Generation, vm.Status.ObservedGeneration}).To(Equal([]int64{1, 1}))
		Expect(vm.Name).To(MatchRegexp(`^contrail-k8s-kubemanager-mk-vn1-pod-[0-9a-f]{8}$`))
		var vmis corev1alpha1.VirtualMachineInterfaceList
		Expect(k8sClient.List(ctx, &vmis, client.InNamespace("default"))).To(Succeed())
		var rows []string
		for _, v := range vmis.Items {
			if v.Spec.PodName == "vn1-pod" {
				rows = append(rows, v.Spec.ClusterName+" "+v.Spec.VirtualNetworkReference.Name+" "+v.Spec.InterfaceName)
			}
		}
		Expect(rows).To(ConsistOf("contrail-k8s-kubemanager-mk default-podnetwork eth0", "contrail-k8s-kubemanager-mk vn1 eth1"))

		By("kubectl delete vn vn1: it is back")
		old := vn.UID
		Expect(k8sClient.Delete(ctx, vn)).To(Succeed())
		Eventually(func() bool {
			again := &corev1alpha1.VirtualNetwork{}
			return k8sClient.Get(ctx, client.ObjectKeyFromObject(vn), again) == nil && again.UID != old
		}).Should(BeTrue())
		Eventually(stateOf(vn)).Should(Equal("Success"))

		By("kubectl delete net-attach-def vn1 while the pod runs: the network stays")
		Expect(k8sClient.Delete(ctx, n)).To(Succeed())
		Eventually(annotation(n, kubemanager.AnnotationNetworksStatus)).Should(Equal("deleting: VirtualNetwork vn1 is still used by 1 interfaces; it goes when they do"))
		Expect(get(vn).DeletionTimestamp).To(BeNil())

		By("the pod goes: its objects and addresses go, then the network and subnet")
		deletePod(p)
		Eventually(podObjects(p)).Should(Equal("vm=0 vmi=0 iip=0"))
		Eventually(gone(n)).Should(BeTrue())
		Eventually(gone(vn)).Should(BeTrue())
		Eventually(gone(&corev1alpha1.Subnet{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "vn1-v4"}})).Should(BeTrue())
	})

	It("replays seeds 000 and 003: opencontrail.org/cidr networks, both annotation forms, a cross-namespace network, a mapped network", func() {
		for _, name := range []string{"vn-left-1", "vn-right-1"} {
			cidr := map[string]string{"vn-left-1": "10.10.10.0/24", "vn-right-1": "20.20.20.0/24"}[name]
			n := nad("default", name, map[string]string{kubemanager.AnnotationOpenContrailCIDR: cidr,
				kubemanager.AnnotationOpenContrailFabricForwarding: "false", kubemanager.AnnotationOpenContrailFabricSNAT: "false"})
			Eventually(annotation(n, kubemanager.AnnotationNetworksStatus)).Should(Equal("success creating VirtualNetwork " + name + " v4Subnet: " + cidr))
		}
		By("a pod on both gets three interfaces, the default network first (JSON list)")
		p := pod("default", "ubuntuapp", `[{ "name": "vn-left-1" }, { "name": "vn-right-1" }]`)
		Expect(interfaces(networkStatus(p))).To(Equal([]string{
			"eth0 " + clusterNamespace + "/default-podnetwork true", "eth1 default/vn-left-1 false", "eth2 default/vn-right-1 false"}))

		By("the comma list with a cross-namespace network")
		namespace("extns")
		nad("extns", "data-network", map[string]string{kubemanager.AnnotationOpenContrailCIDR: "30.30.30.0/24"})
		p2 := pod("default", "comma-pod", "vn-left-1, extns/data-network@data0")
		st := networkStatus(p2)
		Expect(interfaces(st)).To(Equal([]string{
			"eth0 " + clusterNamespace + "/default-podnetwork true", "eth1 default/vn-left-1 false", "data0 extns/data-network false"}))
		Expect(st[2].IPs[0]).To(HavePrefix("30.30.30."))

		By("opencontrail.org/network maps a NAD to an existing network")
		namespace("k8s-extns")
		network("k8s-extns-pod-network", "40.40.40.0/24") // in default; the mapping names its project (namespace)
		mapped := nad("default", "extns-network", map[string]string{kubemanager.AnnotationOpenContrailNetwork: `{"domain":"default-domain", "project": "default", "name":"k8s-extns-pod-network"}`})
		Eventually(annotation(mapped, kubemanager.AnnotationNetworksStatus)).Should(Equal("success mapping to VirtualNetwork default/k8s-extns-pod-network"))
		p3 := pod("default", "mapped-pod", "extns-network")
		st = networkStatus(p3)
		Expect(interfaces(st)).To(ContainElement("eth1 default/extns-network false"))
		Expect(st[1].IPs[0]).To(HavePrefix("40.40.40."))
	})

	It("with KUBEMANAGER_ENABLE_NAD=false leaves NADs untouched", func() {
		stopKubemanager()
		cfg := kubemanagerConfig()
		cfg.EnableNAD = false
		stopKubemanager = startKubemanager(cfg)
		DeferCleanup(func() {
			stopKubemanager()
			stopKubemanager = startKubemanager(kubemanagerConfig())
		})
		n := nad("default", "untouched", map[string]string{kubemanager.AnnotationNetworks: `{"ipamV4Subnet": "172.30.0.0/24"}`})
		Consistently(func() string {
			return annotation(n, kubemanager.AnnotationNetworksStatus)() + strings.Join(n.Finalizers, ",")
		}, "2s").Should(BeEmpty())
		Expect(gone(&corev1alpha1.VirtualNetwork{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "untouched"}})()).To(BeTrue())
	})

	Context("bad input, answered on the NAD or the pod", func() {
		DescribeTable("a bad NAD gets a failure status and a Warning event, and no network",
			func(annotations map[string]string, want string) {
				n := nad("default", uniqueName("badnad"), annotations)
				Eventually(annotation(n, kubemanager.AnnotationNetworksStatus)).Should(And(HavePrefix("failure: "), ContainSubstring(want)))
				Eventually(warningEvent(n, "NetworkFailed")).Should(ContainSubstring(want))
				Expect(gone(&corev1alpha1.VirtualNetwork{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: n.Name}})()).To(BeTrue())
			},
			Entry("malformed JSON", map[string]string{kubemanager.AnnotationNetworks: `{"ipamV4Subnet": "172.16.10.0/24"`}, "juniper.net/networks: is not valid JSON: it ends early"),
			Entry("invalid CIDR", map[string]string{kubemanager.AnnotationNetworks: `{"ipamV4Subnet": "172.16.10.0/33"}`}, `ipamV4Subnet "172.16.10.0/33" is not a CIDR`),
			Entry("invalid opencontrail.org/cidr", map[string]string{kubemanager.AnnotationOpenContrailCIDR: "10.0.0.1/24"}, "has host bits set"),
			Entry("bad route target", map[string]string{kubemanager.AnnotationNetworks: `{"ipamV4Subnet": "10.1.0.0/24", "routeTargetList": ["target:70000:70000"]}`}, "at most 65535"),
			Entry("a route target of the controller's (another network's routes)", map[string]string{kubemanager.AnnotationNetworks: `{"ipamV4Subnet": "10.1.0.0/24", "routeTargetList": ["target:64512:8000001"]}`}, "target:<AS>:8000000 and above are the controller's"),
			Entry("mapping to a missing network", map[string]string{kubemanager.AnnotationOpenContrailNetwork: `{"project": "default", "name": "nowhere"}`}, "VirtualNetwork default/nowhere not found"),
		)

		BeforeEach(func() {
			// The previous spec's "good" goes once its pods' interfaces have gone.
			Eventually(gone(&nadv1.NetworkAttachmentDefinition{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "good"}})).Should(BeTrue())
			n := nad("default", "good", map[string]string{kubemanager.AnnotationNetworks: `{"ipamV4Subnet": "172.31.0.0/24"}`})
			Eventually(annotation(n, kubemanager.AnnotationNetworksStatus)).Should(HavePrefix("success"))
		})

		DescribeTable("a bad pod gets a failure status, a Warning event and the typed problem the agent reads, and nothing half-made",
			func(networks, want string, reason corev1alpha1.PodProblemReason, retry bool) {
				p := pod("default", uniqueName("badpod"), networks)
				Eventually(annotation(p, kubemanager.AnnotationNetworksStatus)).Should(And(HavePrefix("failure: "), ContainSubstring(want)))
				Eventually(warningEvent(p, "NetworksFailed")).Should(ContainSubstring(want))
				var problem corev1alpha1.PodProblem
				Expect(json.Unmarshal([]byte(annotation(p, corev1alpha1.AnnotationPodProblem)()), &problem)).To(Succeed())
				Expect(problem.Reason).To(Equal(reason))
				Expect(problem.Retry).To(Equal(retry), "kubemanager retries %s by itself: %v", reason, retry)
				Expect(problem.Message).To(ContainSubstring(want))
				Expect(p.Annotations).NotTo(HaveKey(nadv1.NetworkStatusAnnot))
				By("it holds no VirtualMachine, interface or address, the default network's included")
				Eventually(podObjects(p)).Should(Equal("vm=0 vmi=0 iip=0"))
			},
			Entry("malformed JSON", `[{"name": "good"`, "failed to parse", corev1alpha1.PodProblemInvalidNetworks, false),
			Entry("unknown NAD", "nosuchnet", "NetworkAttachmentDefinition default/nosuchnet not found", corev1alpha1.PodProblemNotFound, true),
			Entry("NAD in a namespace that does not exist", "nons/good", "NetworkAttachmentDefinition nons/good not found", corev1alpha1.PodProblemNotFound, true),
			Entry("duplicate interface name", `[{"name": "good", "interface": "net1"}, {"name": "good", "interface": "net1"}]`, `interface "net1" is already used by element 0`, corev1alpha1.PodProblemInvalidNetworks, false),
			Entry("two default routes", `[{"name": "good", "default-route": ["172.31.0.1"]}, {"name": "good", "interface": "x", "default-route": ["172.31.0.1"]}]`, "default-route is set on more than one element", corev1alpha1.PodProblemInvalidNetworks, false),
			Entry("invalid MAC", `[{"name": "good", "mac": "02:aa"}]`, `mac "02:aa" is not a MAC address`, corev1alpha1.PodProblemInvalidNetworks, false),
			Entry("static IP outside the network", `[{"name": "good", "ips": ["10.9.9.9/24"]}]`, "10.9.9.9", corev1alpha1.PodProblemInvalidNetworks, false),
			Entry("default-route outside the network", `[{"name": "good", "default-route": ["10.9.9.1"]}]`, "default-route 10.9.9.1 of network default/good is in none of its subnets", corev1alpha1.PodProblemInvalidNetworks, false),
		)

		It("moves the default route to the element with default-route, as data the agent reads: network-status's default and gateway", func() {
			p := pod("default", "routed", `[{"name": "good", "default-route": ["172.31.0.254"]}]`)
			st := networkStatus(p)
			Expect(interfaces(st)).To(Equal([]string{"eth0 " + clusterNamespace + "/default-podnetwork false", "eth1 default/good true"}))
			Expect(st[1].Gateway).To(Equal([]string{"172.31.0.254"}))
			Expect(st[0].Gateway).To(BeEmpty())
		})

		It("fails a pod whose static IP another pod holds, and keeps every other pod working", func() {
			first := pod("default", "static-a", `[{"name": "good", "ips": ["172.31.0.50/24"]}]`)
			Expect(networkStatus(first)[1].IPs).To(Equal([]string{"172.31.0.50"}))
			second := pod("default", "static-b", `[{"name": "good", "ips": ["172.31.0.50/24"]}]`)
			Eventually(annotation(second, kubemanager.AnnotationNetworksStatus)).Should(ContainSubstring("requested address 172.31.0.50 is taken by InstanceIP"))
			Eventually(podObjects(second)).Should(Equal("vm=0 vmi=0 iip=0"), "the failed pod holds nothing, not even its default network's address")
			third := pod("default", "static-c", "good")
			Expect(interfaces(networkStatus(third))).To(HaveLen(2))
		})

		It("plugs the other interfaces of a pod that names another plugin's NAD, and says so", func() {
			other := &nadv1.NetworkAttachmentDefinition{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "macvlan-net"},
				Spec: nadv1.NetworkAttachmentDefinitionSpec{Config: `{"cniVersion": "0.3.1", "type": "macvlan", "master": "eth0"}`}}
			Expect(create(other)).To(Succeed())
			Consistently(annotation(other, kubemanager.AnnotationNetworksStatus), "1s").Should(BeEmpty())
			p := pod("default", "mixed", "macvlan-net,good")
			Expect(interfaces(networkStatus(p))).To(Equal([]string{"eth0 " + clusterNamespace + "/default-podnetwork true", "eth1 default/good false"}))
			Eventually(warningEvent(p, "NotAContrailNetwork")).Should(ContainSubstring(`is of type "macvlan": Kontrail plugs only contrail-k8s-cni networks`))
		})

		It("does not apply a change of a running pod's networks, and warns", func() {
			p := pod("default", "changing", "good")
			Expect(interfaces(networkStatus(p))).To(HaveLen(2))
			Expect(update(p, func(p *corev1.Pod) { p.Annotations[nadv1.NetworkAttachmentAnnot] = "good,good@net9" })).To(Succeed())
			Eventually(warningEvent(p, "NetworksChanged")).Should(ContainSubstring("the networks of a running pod cannot change"))
			Consistently(podObjects(p), "1s").Should(Equal("vm=1 vmi=2 iip=2"))
		})

		It("refuses to change the subnet of a network in use, and says so on the NAD", func() {
			n := &nadv1.NetworkAttachmentDefinition{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "good"}}
			p := pod("default", "user", "good")
			Expect(interfaces(networkStatus(p))).To(HaveLen(2))
			Expect(update(n, func(n *nadv1.NetworkAttachmentDefinition) {
				n.Annotations[kubemanager.AnnotationNetworks] = `{"ipamV4Subnet": "172.31.1.0/24"}`
			})).To(Succeed())
			Eventually(annotation(n, kubemanager.AnnotationNetworksStatus)).Should(Equal(
				"failure: VirtualNetwork good is used by 1 interfaces: its subnet cannot change from 172.31.0.0/24 to 172.31.1.0/24 until they are gone"))
			Eventually(warningEvent(n, "NetworkFailed")).Should(ContainSubstring("cannot change"))
			Expect(get(&corev1alpha1.Subnet{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "good-v4"}}).Spec.CIDR).To(Equal("172.31.0.0/24"))
		})

		It("cleans up after a pod deleted and recreated under the same name while kubemanager was down", func() {
			p := pod("default", "phoenix", "good")
			first := networkStatus(p)
			stopKubemanager()
			deletePod(p)
			p2 := pod("default", "phoenix", "good")
			stopKubemanager = startKubemanager(kubemanagerConfig())
			second := networkStatus(p2)
			Expect(second[1].Mac).NotTo(Equal(first[1].Mac))
			Eventually(podObjects(p2)).Should(Equal("vm=1 vmi=2 iip=2"), "the old pod's objects are gone")
			Expect(p2.Annotations[kubemanager.AnnotationVMUUID]).NotTo(Equal(p.Annotations[kubemanager.AnnotationVMUUID]))
		})

		It("never lets a pod recreated with the same name inherit the old one's objects", func() {
			p := pod("default", "reborn", "good")
			first := networkStatus(p)
			oldUID := p.UID
			deletePod(p)
			p2 := pod("default", "reborn", "good")
			Expect(p2.UID).NotTo(Equal(oldUID))
			second := networkStatus(p2)
			Expect(second).To(HaveLen(2))
			Eventually(podObjects(p2)).Should(Equal("vm=1 vmi=2 iip=2"))
			Expect(second[1].Mac).NotTo(Equal(first[1].Mac))
		})
	})
})

var _ = Describe("kubemanager and services", func() {
	It("reserves every ClusterIP service's cluster IP on the service network, and releases it with the service", func() {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "frontend"},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
		Expect(create(svc)).To(Succeed())
		Expect(svc.Spec.ClusterIP).NotTo(BeEmpty())
		find := func() *corev1alpha1.InstanceIP {
			var list corev1alpha1.InstanceIPList
			Expect(k8sClient.List(ctx, &list)).To(Succeed())
			for i := range list.Items {
				if list.Items[i].Annotations[kubemanager.AnnotationService] == "default/frontend" {
					return &list.Items[i]
				}
			}
			return nil
		}
		Eventually(find).ShouldNot(BeNil())
		iip := find()
		Expect(iip.Name).To(MatchRegexp(`^contrail-k8s-kubemanager-mk-frontend-[0-9a-f]{8}$`))
		Eventually(stateOf(iip)).Should(Equal("Success"))
		Expect(iip.Spec.InstanceIPAddress).To(Equal(svc.Spec.ClusterIP))
		Expect(iip.Status.Network).To(Equal(clusterNamespace + "/default-servicenetwork"))

		// The kubernetes Service holds the first address: no gateway is in its way.
		Eventually(func() bool {
			var list corev1alpha1.InstanceIPList
			Expect(k8sClient.List(ctx, &list)).To(Succeed())
			for _, i := range list.Items {
				if i.Annotations[kubemanager.AnnotationService] == "default/kubernetes" && i.Status.State == corev1alpha1.StateSuccess {
					return i.Spec.InstanceIPAddress == "10.0.0.1"
				}
			}
			return false
		}).Should(BeTrue())

		Expect(k8sClient.Delete(ctx, svc)).To(Succeed())
		Eventually(gone(iip)).Should(BeTrue())
	})
})

var _ = Describe("kubemanager and isolated namespaces", func() {
	It("puts the default interface of an isolated namespace's pods on the namespace's own pod network, from the cluster's pool", func() {
		Expect(create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "isolated-ns",
			Labels: map[string]string{kubemanager.LabelIsolatedNamespace: "true"}}})).To(Succeed())
		vn := &corev1alpha1.VirtualNetwork{ObjectMeta: metav1.ObjectMeta{Namespace: "isolated-ns", Name: "default-podnetwork"}}
		Eventually(stateOf(vn)).Should(Equal("Success"))
		Expect(vn.Spec.V4SubnetReference.Namespace).To(Equal(clusterNamespace))

		inside := pod("isolated-ns", "inside", "")
		outside := pod("default", "outside", "")
		in, out := networkStatus(inside), networkStatus(outside)
		Expect(interfaces(in)).To(Equal([]string{"eth0 isolated-ns/default-podnetwork true"}))
		Expect(interfaces(out)).To(Equal([]string{"eth0 " + clusterNamespace + "/default-podnetwork true"}))
		Expect(in[0].IPs[0]).NotTo(Equal(out[0].IPs[0]), "one pool for both")
		Expect(netip.MustParsePrefix("10.244.0.0/16").Contains(netip.MustParseAddr(in[0].IPs[0]))).To(BeTrue())
	})
})
