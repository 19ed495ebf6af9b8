package envtest

import (
	"fmt"
	"net/netip"
	"time"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
	"github.com/kontrail/kontrail/components/kubemanager/kubemanager"
)

// Ownership under faults (docs/architecture.md, "Who holds an address"):
// an address and a MAC belong to their pod for its whole life. Each spec
// takes away, under running pods, what the pipeline depends on, and
// checks that no running pod loses or changes an address or a MAC, and
// that a new pod gets fresh ones.

// plugged is what a pod was given: its interfaces' addresses and MACs.
type plugged map[string]nadv1.NetworkStatus

func pluggedOf(p *corev1.Pod) plugged {
	GinkgoHelper()
	out := plugged{}
	for _, s := range networkStatus(p) {
		out[s.Interface] = s
	}
	return out
}

// keeps checks, for a while, that the pods' network-status and their
// InstanceIPs still hold what they were given.
func keeps(pods map[*corev1.Pod]plugged, d time.Duration) {
	GinkgoHelper()
	Consistently(func(g Gomega) {
		for p, want := range pods {
			var now corev1.Pod
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(p), &now)).To(Succeed())
			for _, s := range want {
				g.Expect(now.Annotations[nadv1.NetworkStatusAnnot]).To(ContainSubstring(fmt.Sprintf("%q", s.IPs[0])),
					"pod %s keeps %s on %s", p.Name, s.IPs[0], s.Interface)
				g.Expect(now.Annotations[nadv1.NetworkStatusAnnot]).To(ContainSubstring(fmt.Sprintf("%q", s.Mac)),
					"pod %s keeps MAC %s on %s", p.Name, s.Mac, s.Interface)
			}
			g.Expect(heldAddresses(p)).To(ConsistOf(addressesOf(want)), "pod %s's InstanceIPs hold its addresses", p.Name)
		}
	}, d, 250*time.Millisecond).Should(Succeed())
}

func addressesOf(pl plugged) []string {
	var out []string
	for _, s := range pl {
		out = append(out, s.IPs...)
	}
	return out
}

// heldAddresses are the addresses the pod's InstanceIPs hold (Success).
func heldAddresses(p *corev1.Pod) []string {
	var iips corev1alpha1.InstanceIPList
	Expect(k8sClient.List(ctx, &iips, client.MatchingLabels{kubemanager.LabelPodUID: string(p.UID)})).To(Succeed())
	var out []string
	for _, iip := range iips.Items {
		if iip.Status.State == corev1alpha1.StateSuccess && iip.DeletionTimestamp.IsZero() {
			out = append(out, iip.Spec.InstanceIPAddress)
		}
	}
	return out
}

var _ = Describe("Ownership under faults", func() {
	cidrNAD := func(ns, name, cidr string) *nadv1.NetworkAttachmentDefinition {
		n := nad(ns, name, map[string]string{"opencontrail.org/cidr": cidr})
		Eventually(stateOf(&corev1alpha1.VirtualNetwork{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})).Should(Equal("Success"))
		return n
	}
	fresh := func(p *corev1.Pod, running map[*corev1.Pod]plugged) {
		GinkgoHelper()
		got := pluggedOf(p)
		for other, held := range running {
			for ifc, s := range got {
				for _, h := range held {
					Expect(s.IPs).NotTo(ContainElement(h.IPs[0]), "new pod %s's %s has %s, held by running pod %s", p.Name, ifc, h.IPs[0], other.Name)
					Expect(s.Mac).NotTo(Equal(h.Mac), "new pod %s's %s has MAC %s, held by running pod %s", p.Name, ifc, h.Mac, other.Name)
				}
			}
		}
	}

	It("a Subnet deleted under running pods is refused, naming what holds it; a controller restart then leaves the pods their addresses and a new pod gets fresh ones (issue 16's scenario)", func() {
		namespace("own-subnet")
		cidrNAD("own-subnet", "net", "172.30.1.0/24")
		running := map[*corev1.Pod]plugged{}
		for _, name := range []string{"a", "b"} {
			p := pod("own-subnet", name, "net")
			running[p] = pluggedOf(p)
		}
		sn := &corev1alpha1.Subnet{ObjectMeta: metav1.ObjectMeta{Namespace: "own-subnet", Name: "net-v4"}}
		err := k8sClient.Delete(ctx, get(sn))
		Expect(err).To(HaveOccurred(), "deleting a Subnet that holds addresses")
		Expect(err.Error()).To(And(ContainSubstring("2 addresses"), ContainSubstring("InstanceIP")), err.Error())
		Expect(get(sn).DeletionTimestamp).To(BeNil())

		stopController()
		stopController = startController()
		keeps(running, 5*time.Second)
		fresh(pod("own-subnet", "c", "net"), running)

		By("delete the pods, then the Subnet at once: allowed (their addresses are on their way back), held until they are back")
		var pods corev1.PodList
		Expect(k8sClient.List(ctx, &pods, client.InNamespace("own-subnet"))).To(Succeed())
		for i := range pods.Items {
			deletePod(&pods.Items[i])
		}
		Expect(k8sClient.Delete(ctx, get(sn))).To(Succeed())
		Eventually(func() bool {
			again := &corev1alpha1.Subnet{}
			return k8sClient.Get(ctx, client.ObjectKeyFromObject(sn), again) == nil && again.UID != sn.UID
		}).Should(BeTrue(), "it goes once the addresses are back, and kubemanager makes it again for the NAD")
	})

	It("a Subnet whose deletion got past admission (held by its finalizer) keeps its addresses through a controller restart", func() {
		namespace("own-held")
		cidrNAD("own-held", "net", "172.30.2.0/24")
		running := map[*corev1.Pod]plugged{}
		p := pod("own-held", "a", "net")
		running[p] = pluggedOf(p)
		sn := get(&corev1alpha1.Subnet{ObjectMeta: metav1.ObjectMeta{Namespace: "own-held", Name: "net-v4"}})
		// As a deletion admission did not look at (a webhook configuration
		// without DELETE, or an InstanceIP allocated between its look and
		// the delete): the finalizer holds it.
		withoutSubnetDeleteAdmission(func() {
			Eventually(func() error { return k8sClient.Delete(ctx, sn) }).Should(Succeed())
		})
		Eventually(stateOf(sn)).Should(HavePrefix("Pending"))

		stopController()
		stopController = startController()
		keeps(running, 5*time.Second)

		By("the pod goes: then the Subnet goes, and kubemanager makes it again for the NAD")
		deletePod(p)
		Eventually(func() bool {
			again := &corev1alpha1.Subnet{}
			return k8sClient.Get(ctx, client.ObjectKeyFromObject(sn), again) == nil && again.UID != sn.UID
		}).Should(BeTrue())
	})

	It("a VirtualNetwork deleted and made again under running pods leaves them their addresses and MACs", func() {
		namespace("own-vn")
		cidrNAD("own-vn", "net", "172.30.3.0/24")
		running := map[*corev1.Pod]plugged{}
		for _, name := range []string{"a", "b"} {
			p := pod("own-vn", name, "net")
			running[p] = pluggedOf(p)
		}
		vn := get(&corev1alpha1.VirtualNetwork{ObjectMeta: metav1.ObjectMeta{Namespace: "own-vn", Name: "net"}})
		old := vn.UID
		Expect(k8sClient.Delete(ctx, vn)).To(Succeed())
		keeps(running, 5*time.Second)
		Eventually(func() types.UID { return get(vn).UID }).ShouldNot(Equal(old), "kubemanager makes the network again")
		Eventually(stateOf(vn)).Should(Equal("Success"))
		fresh(pod("own-vn", "c", "net"), running)
	})

	It("a controller restart while a VirtualNetwork is missing leaves running pods their addresses", func() {
		namespace("own-vn-restart")
		cidrNAD("own-vn-restart", "net", "172.30.4.0/24")
		running := map[*corev1.Pod]plugged{}
		p := pod("own-vn-restart", "a", "net")
		running[p] = pluggedOf(p)
		stopKubemanager() // nothing makes the network again meanwhile
		vn := get(&corev1alpha1.VirtualNetwork{ObjectMeta: metav1.ObjectMeta{Namespace: "own-vn-restart", Name: "net"}})
		Expect(k8sClient.Delete(ctx, vn)).To(Succeed())
		Eventually(gone(vn)).Should(BeTrue())
		stopController()
		stopController = startController()
		stopKubemanager = startKubemanager(kubemanagerConfig())
		keeps(running, 5*time.Second)
		Eventually(stateOf(vn)).Should(Equal("Success"))
		fresh(pod("own-vn-restart", "c", "net"), running)
	})

	It("a NAD edited to nonsense under a running pod leaves it its interfaces, and says so", func() {
		namespace("own-nad")
		n := cidrNAD("own-nad", "net", "172.30.5.0/24")
		running := map[*corev1.Pod]plugged{}
		p := pod("own-nad", "a", "net")
		running[p] = pluggedOf(p)
		Expect(update(n, func(n *nadv1.NetworkAttachmentDefinition) {
			n.Annotations["opencontrail.org/cidr"] = "not a cidr"
		})).To(Succeed())
		Eventually(annotation(n, kubemanager.AnnotationNetworksStatus)).Should(HavePrefix("failure"))
		// A change of the pod requeues it with the NAD broken.
		Expect(update(p, func(p *corev1.Pod) { p.Labels = map[string]string{"poke": "1"} })).To(Succeed())
		keeps(running, 5*time.Second)
	})
})

// withoutSubnetDeleteAdmission runs f with the Subnet webhook's DELETE
// rule removed from its configuration, and puts it back.
func withoutSubnetDeleteAdmission(f func()) {
	GinkgoHelper()
	var configs admissionregistrationv1.ValidatingWebhookConfigurationList
	Expect(k8sClient.List(ctx, &configs)).To(Succeed())
	for i := range configs.Items {
		vwc := &configs.Items[i]
		for j, w := range vwc.Webhooks {
			if w.Name != "vsubnet.core.contrail.juniper.net" {
				continue
			}
			saved := w.Rules
			Expect(update(vwc, func(c *admissionregistrationv1.ValidatingWebhookConfiguration) {
				for k := range c.Webhooks[j].Rules {
					c.Webhooks[j].Rules[k].Operations = []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}
				}
			})).To(Succeed())
			defer func() {
				Expect(update(vwc, func(c *admissionregistrationv1.ValidatingWebhookConfiguration) { c.Webhooks[j].Rules = saved })).To(Succeed())
			}()
		}
	}
	f()
}

// allocationOf makes an Allocation of addr of Subnet <vn>-v4 in default,
// held by holder, as another allocator (or a stale controller) would have.
func allocationOf(vn *corev1alpha1.VirtualNetwork, addr string, holder corev1alpha1.ResourceReference) *corev1alpha1.Allocation {
	GinkgoHelper()
	a := &corev1alpha1.Allocation{ObjectMeta: metav1.ObjectMeta{
		Name: corev1alpha1.AddressAllocationName("default", vn.Name+"-v4", netip.MustParseAddr(addr))},
		Spec: corev1alpha1.AllocationSpec{Type: corev1alpha1.AllocationAddress, Value: addr,
			SubnetReference: &corev1alpha1.ResourceReference{Kind: "Subnet", Namespace: "default", Name: vn.Name + "-v4"},
			HolderReference: holder}}
	Expect(create(a)).To(Succeed())
	return a
}

var _ = Describe("Allocations: the apiserver decides who holds a value", func() {
	It("never hands out an address whose Allocation another object holds, whatever the controller's memory says, and names that holder to a static request", func() {
		vn := network("lock", "10.31.0.0/24")
		// Held outside this controller's memory (made after it loaded).
		outside := corev1alpha1.ResourceReference{Kind: "ExternalAllocator", Name: "other", UID: "0b5c9c56-0000-4000-8000-000000000001"}
		for _, addr := range []string{"10.31.0.2", "10.31.0.3"} {
			allocationOf(vn, addr, outside)
		}
		first := instanceIP("lock-first", vn, "")
		Expect(create(first)).To(Succeed())
		Eventually(stateOf(first)).Should(Equal("Success"))
		Expect(get(first).Spec.InstanceIPAddress).To(Equal("10.31.0.4"))
		a := &corev1alpha1.Allocation{ObjectMeta: metav1.ObjectMeta{Name: corev1alpha1.AddressAllocationName("default", "lock-v4", netip.MustParseAddr("10.31.0.4"))}}
		Expect(get(a).Spec.HolderReference.UID).To(Equal(first.UID), "the address's Allocation names its InstanceIP")

		static := instanceIP("lock-static", vn, "10.31.0.3")
		Expect(create(static)).To(Succeed())
		Eventually(stateOf(static)).Should(Equal("Failure requested address 10.31.0.3 is taken by ExternalAllocator other"))

		By("the InstanceIP goes: its Allocation goes with it")
		Expect(k8sClient.Delete(ctx, first)).To(Succeed())
		Eventually(gone(a)).Should(BeTrue())
	})

	It("deletes an Allocation whose holder is gone after two looks, and hands its value out again", func() {
		vn := network("ghost", "10.32.0.0/24")
		ghost := allocationOf(vn, "10.32.0.2", corev1alpha1.ResourceReference{Kind: "InstanceIP", Name: "ghost", UID: "0b5c9c56-0000-4000-8000-000000000002"})
		before := instanceIP("ghost-before", vn, "")
		Expect(create(before)).To(Succeed())
		Eventually(stateOf(before)).Should(Equal("Success"))
		Expect(get(before).Spec.InstanceIPAddress).To(Equal("10.32.0.3"), "10.32.0.2 is held while its holder's absence is not confirmed")
		Eventually(gone(ghost)).Should(BeTrue(), "the repair deletes the Allocation of a holder that does not exist")
		// The pool moves on past what it handed out: ask for the address.
		after := instanceIP("ghost-after", vn, "10.32.0.2")
		Expect(create(after)).To(Succeed())
		Eventually(stateOf(after)).Should(Equal("Success"))
	})

	It("lets a deleted Subnet go once the repair frees the last address it held (an InstanceIP gone before its finalizer)", func() {
		vn := network("leak", "10.33.0.0/24")
		sn := &corev1alpha1.Subnet{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: vn.Name + "-v4"}}
		Eventually(func() []string { return get(sn).Finalizers }).Should(ContainElement("subnet-pool.finalizers.core.juniper.net"))
		ghost := allocationOf(vn, "10.33.0.2", corev1alpha1.ResourceReference{Kind: "InstanceIP", Name: "gone-early", UID: "0b5c9c56-0000-4000-8000-000000000003"})
		By("the controller holds the address, as it did for an InstanceIP deleted before its finalizer came")
		stopController()
		stopController = startController()
		Expect(k8sClient.Delete(ctx, sn)).To(Succeed())
		Eventually(func() string { return get(sn).Status.Observation }).Should(ContainSubstring("1 addresses are still allocated"))
		By("the repair deletes the Allocation; nothing of the Subnet's changes, yet it goes")
		Eventually(gone(ghost)).Should(BeTrue())
		Eventually(gone(sn), "30s").Should(BeTrue(), "a deleted Subnet stuck Pending after its last address was freed")
	})

	It("keeps the Allocation of a holder that exists", func() {
		vn := network("alive", "10.33.0.0/24")
		iip := instanceIP("alive", vn, "")
		Expect(create(iip)).To(Succeed())
		Eventually(stateOf(iip)).Should(Equal("Success"))
		a := &corev1alpha1.Allocation{ObjectMeta: metav1.ObjectMeta{Name: corev1alpha1.AddressAllocationName("default", "alive-v4", netip.MustParseAddr(get(iip).Spec.InstanceIPAddress))}}
		Consistently(func() error { return k8sClient.Get(ctx, client.ObjectKeyFromObject(a), a) }, 5*time.Second, 500*time.Millisecond).Should(Succeed())
	})
})

var _ = Describe("Deleting by hand what a running pod holds", func() {
	It("refuses to delete the InstanceIPs and VirtualMachineInterfaces of a plugged pod, naming the pod; they go with it", func() {
		namespace("own-byhand")
		nad("own-byhand", "net", map[string]string{"opencontrail.org/cidr": "172.30.6.0/24"})
		p := pod("own-byhand", "a", "net")
		running := map[*corev1.Pod]plugged{p: pluggedOf(p)}
		var iips corev1alpha1.InstanceIPList
		Expect(k8sClient.List(ctx, &iips, client.MatchingLabels{kubemanager.LabelPodUID: string(p.UID)})).To(Succeed())
		Expect(iips.Items).To(HaveLen(2))
		for i := range iips.Items {
			err := k8sClient.Delete(ctx, &iips.Items[i])
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring("of running pod own-byhand/a"))
		}
		var vmis corev1alpha1.VirtualMachineInterfaceList
		Expect(k8sClient.List(ctx, &vmis, client.MatchingLabels{kubemanager.LabelPodUID: string(p.UID)})).To(Succeed())
		Expect(vmis.Items).To(HaveLen(2))
		for i := range vmis.Items {
			err := k8sClient.Delete(ctx, &vmis.Items[i])
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring("is interface eth"))
		}
		keeps(running, 2*time.Second)
		deletePod(p)
		Eventually(podObjects(p)).Should(Equal("vm=0 vmi=0 iip=0"))
	})
})

var _ = Describe("A deleted node", func() {
	It("takes its VirtualRouter and the endpoints in it along; a node that is there keeps its", func() {
		here := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("here")}}
		Expect(create(here)).To(Succeed())
		endpoints := func(name string) *corev1alpha1.VirtualRouter {
			vr := &corev1alpha1.VirtualRouter{ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: corev1alpha1.VirtualRouterSpec{VirtualRouterIPAddress: "192.168.177.48"}}
			Expect(create(vr)).To(Succeed())
			return vr
		}
		kept := endpoints(here.Name)
		gonesNode := endpoints(uniqueName("gone"))
		Eventually(gone(gonesNode)).Should(BeTrue(), "the VirtualRouter of a node that does not exist goes")
		Consistently(gone(kept), 3*time.Second, 250*time.Millisecond).Should(BeFalse())
		Expect(k8sClient.Delete(ctx, here)).To(Succeed())
		Eventually(gone(kept)).Should(BeTrue(), "the node's deletion takes its VirtualRouter")
	})
})
