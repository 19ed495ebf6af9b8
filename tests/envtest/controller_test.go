package envtest

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	. "github.com/onsi/gomega/gstruct"
	coordinationv1 "k8s.io/api/coordination/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
	"github.com/kontrail/kontrail/components/controller/controllers"
	"github.com/kontrail/kontrail/pkg/component"
)

// The controller component against the real apiserver (with the apiserver
// component's webhooks): allocation of VNIs, routing instances, route
// targets, addresses and MACs, as the seed shows them.

// network creates a Subnet and a VirtualNetwork on it, and removes both
// after the spec.
func network(name, cidr string) *corev1alpha1.VirtualNetwork {
	GinkgoHelper()
	sn := &corev1alpha1.Subnet{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name + "-v4",
		Labels: map[string]string{corev1alpha1.LabelSubnetVirtualNetwork: name}},
		Spec: corev1alpha1.SubnetSpec{CIDR: cidr}}
	Expect(create(sn)).To(Succeed())
	vn := &corev1alpha1.VirtualNetwork{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1alpha1.VirtualNetworkSpec{V4SubnetReference: &corev1alpha1.ResourceReference{Name: sn.Name}}}
	Expect(create(vn)).To(Succeed())
	return vn
}

// instanceIP is an InstanceIP on network vn, optionally asking for addr.
func instanceIP(name string, vn *corev1alpha1.VirtualNetwork, addr string) *corev1alpha1.InstanceIP {
	return &corev1alpha1.InstanceIP{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1alpha1.InstanceIPSpec{
		InstanceIPAddress:       addr,
		VirtualNetworkReference: corev1alpha1.ResourceReference{Namespace: vn.Namespace, Name: vn.Name},
	}}
}

// get reads obj back.
func get[T client.Object](obj T) T {
	GinkgoHelper()
	Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
	return obj
}

// stateOf reads an object's state and observation.
func stateOf(obj client.Object) func() string {
	return func() string {
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err.Error()
		}
		o, ok := obj.(corev1alpha1.Object)
		if !ok {
			Fail(fmt.Sprintf("%T is not a core object", obj))
		}
		cs := o.GetCommonStatus()
		return strings.TrimSpace(string(cs.State) + " " + cs.Observation)
	}
}

// subnetUsage reads a Subnet's ipCount and allocationUsage.
func subnetUsage(namespace, name string) func() string {
	return func() string {
		sn := &corev1alpha1.Subnet{}
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, sn); err != nil {
			return err.Error()
		}
		return fmt.Sprintf("%d %s", sn.Status.IPCount, sn.Status.AllocationUsage)
	}
}

// warningEvent finds a Warning event on obj with the reason.
func warningEvent(obj client.Object, reason string) func() string {
	return func() string {
		var list eventsv1.EventList
		if err := k8sClient.List(ctx, &list); err != nil {
			return err.Error()
		}
		for _, e := range list.Items {
			if e.Regarding.Name == obj.GetName() && e.Regarding.UID == obj.GetUID() && e.Type == "Warning" && e.Reason == reason {
				return e.Note
			}
		}
		return ""
	}
}

// createAll creates objects from several goroutines at once.
func createAll[T client.Object](objs []T) {
	GinkgoHelper()
	var wg sync.WaitGroup
	errs := make(chan error, len(objs))
	for _, o := range objs {
		wg.Go(func() { errs <- k8sClient.Create(ctx, o) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		Expect(err).NotTo(HaveOccurred())
	}
	DeferCleanup(func() {
		for _, o := range objs {
			Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, o))).To(Succeed())
		}
	})
}

// addresses waits until every InstanceIP succeeds and returns their addresses.
func addresses(iips []*corev1alpha1.InstanceIP) []string {
	GinkgoHelper()
	var out []string
	for _, iip := range iips {
		Eventually(stateOf(iip)).Should(Equal("Success"), "InstanceIP %s", iip.Name)
		Expect(iip.Annotations).To(HaveKeyWithValue(controllers.AnnotationAllocated, HaveSuffix("/"+iip.Spec.InstanceIPAddress)))
		out = append(out, iip.Spec.InstanceIPAddress)
	}
	return out
}

func expectDistinctIn(addrs []string, cidr string) {
	GinkgoHelper()
	prefix := netip.MustParsePrefix(cidr)
	seen := map[string]bool{}
	for _, a := range addrs {
		Expect(seen).NotTo(HaveKey(a), "address %s handed out twice", a)
		seen[a] = true
		Expect(prefix.Contains(netip.MustParseAddr(a))).To(BeTrue(), "%s outside %s", a, cidr)
	}
}

var _ = Describe("Controller", func() {
	It("gives the seed's vn1 its VNI, routing instance, route targets and subnet usage, and removes them with it", func() {
		sn := &corev1alpha1.Subnet{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "vn1-v4"},
			Spec: corev1alpha1.SubnetSpec{CIDR: "172.16.10.0/24"}}
		Expect(create(sn)).To(Succeed())
		vn := &corev1alpha1.VirtualNetwork{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "vn1"},
			Spec: corev1alpha1.VirtualNetworkSpec{
				V4SubnetReference:     &corev1alpha1.ResourceReference{Name: "vn1-v4"},
				RouteTargetList:       []corev1alpha1.RouteTargetString{"target:23:4561"},
				ImportRouteTargetList: []corev1alpha1.RouteTargetString{"target:10.2.2.2:561"},
				ExportRouteTargetList: []corev1alpha1.RouteTargetString{"target:10.1.1.1:561"},
			}}
		Expect(create(vn)).To(Succeed())

		Eventually(stateOf(vn)).Should(Equal("Success"))
		Expect(vn.Status.VirtualNetworkNetworkID).To(BeNumerically(">", 0))
		Expect(vn.Status.IPFamilies).To(Equal("v4"))
		Expect(vn.Finalizers).To(ConsistOf(controllers.FinalizerVNIDeallocation, controllers.FinalizerRouteTarget, controllers.FinalizerRoutingInstanceDeletion))

		ri := &corev1alpha1.RoutingInstance{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "vn1"}}
		Eventually(stateOf(ri)).Should(Equal("Success"))
		Expect(metav1.IsControlledBy(ri, vn)).To(BeTrue())
		Expect(ri.Spec.Parent).To(MatchFields(IgnoreExtras, Fields{"Kind": Equal("VirtualNetwork"), "Name": Equal("vn1"), "UID": Equal(vn.UID)}))
		Expect(ri.Spec.FQName).To(Equal([]string{"default-domain", "default", "vn1", "vn1"}))
		Expect(ri.Status.IsDefault).To(BeTrue())
		Expect(ri.Status.DefaultRouteTarget).To(MatchRegexp(`^64512:80\d{5}$`))
		Expect(ri.Finalizers).To(ConsistOf(controllers.FinalizerRouteTargetDeleteDefault, controllers.FinalizerRouteTargetNumberDeallocation))
		directions := map[string]corev1alpha1.ImportExport{}
		for _, ref := range ri.Spec.RouteTargetReferences {
			directions[ref.Name] = ref.Attributes.ImportExport
			Expect(ref.UID).NotTo(BeEmpty())
		}
		Expect(directions).To(Equal(map[string]corev1alpha1.ImportExport{
			"target-10.1.1.1-561": "export", "target-10.2.2.2-561": "import", "target-23-4561": "",
		}))

		systemRT := &corev1alpha1.RouteTarget{ObjectMeta: metav1.ObjectMeta{Name: ri.Status.DefaultRouteTargetReference.Name}}
		Expect(systemRT.Name).To(Equal("target-" + strings.ReplaceAll(ri.Status.DefaultRouteTarget, ":", "-")))
		Expect(get(systemRT).Labels).To(HaveKeyWithValue("core.juniper.net/systemrt", "true"))
		for _, name := range []string{"target-10.1.1.1-561", "target-10.2.2.2-561", "target-23-4561", systemRT.Name} {
			Eventually(stateOf(&corev1alpha1.RouteTarget{ObjectMeta: metav1.ObjectMeta{Name: name}})).Should(Equal("Success"))
		}

		// network, gateway and broadcast: 3 of 256; the seed's pod makes it 4 and 1.56%.
		Eventually(subnetUsage("default", "vn1-v4")).Should(Equal("3 1.17%"))
		pod := instanceIP("contrail-k8s-kubemanager-mk-vn1-pod-f7921747", vn, "")
		Expect(create(pod)).To(Succeed())
		Expect(addresses([]*corev1alpha1.InstanceIP{pod})).To(Equal([]string{"172.16.10.2"}))
		Expect(pod.Status.Network).To(Equal("default/vn1"))
		Eventually(subnetUsage("default", "vn1-v4")).Should(Equal("4 1.56%"))

		// Deleting the network removes its routing instance and system route target.
		Expect(k8sClient.Delete(ctx, pod)).To(Succeed())
		Eventually(subnetUsage("default", "vn1-v4")).Should(Equal("3 1.17%"))
		Expect(k8sClient.Delete(ctx, vn)).To(Succeed())
		Eventually(func() bool { return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(ri), ri)) }).Should(BeTrue())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(systemRT), systemRT))
		}).Should(BeTrue())
		Eventually(func() bool { return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(vn), vn)) }).Should(BeTrue())
	})

	It("gives 200 InstanceIPs created at once 200 distinct addresses, writes the Subnet's usage about once a second, and reuses a released one", func() {
		vn := network("burst", "10.20.0.0/24")
		Eventually(stateOf(vn)).Should(Equal("Success"))
		// Every write of the Subnet, from here on.
		watcher, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
		w, err := watcher.Watch(ctx, &corev1alpha1.SubnetList{}, client.InNamespace("default"),
			client.MatchingFields{"metadata.name": "burst-v4"})
		Expect(err).NotTo(HaveOccurred())
		defer w.Stop()
		start := time.Now()
		iips := make([]*corev1alpha1.InstanceIP, 200)
		for i := range iips {
			iips[i] = instanceIP(fmt.Sprintf("burst-%03d", i), vn, "")
		}
		createAll(iips)
		addrs := addresses(iips)
		expectDistinctIn(addrs, "10.20.0.0/24")
		Eventually(subnetUsage("default", "burst-v4")).Should(HavePrefix("203 "))
		took := time.Since(start)
		writes := 0
		for drained := false; !drained; {
			select {
			case e := <-w.ResultChan():
				if e.Type == watch.Modified {
					writes++
				}
			case <-time.After(time.Second):
				drained = true
			}
		}
		// One usage write per address would be ~200; once a second (and
		// the first at once) is about the burst's seconds.
		Expect(writes).To(BeNumerically("<=", int(took.Seconds())+3), "Subnet writes during a %s burst", took)

		freed := iips[17].Spec.InstanceIPAddress
		Expect(k8sClient.Delete(ctx, iips[17])).To(Succeed())
		Eventually(subnetUsage("default", "burst-v4")).Should(HavePrefix("202 "))
		again := instanceIP("burst-again", vn, freed)
		Expect(create(again)).To(Succeed())
		Expect(addresses([]*corev1alpha1.InstanceIP{again})).To(Equal([]string{freed}))
	})

	It("writes an allocation, its record, its finalizer and the status in one write naming the generation it made, and keeps everyone else's status writes out", func() {
		vn := network("onewrite", "10.21.0.0/24")
		Eventually(stateOf(vn)).Should(Equal("Success"))
		watcher, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())

		// An InstanceIP and an interface created with a status of their
		// own: admission drops it (no one but the components writes it).
		iip := instanceIP(uniqueName("onewrite"), vn, "")
		iip.Status.State, iip.Status.Network = corev1alpha1.StateFailure, "forged"
		vmi := &corev1alpha1.VirtualMachineInterface{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: uniqueName("onewrite")},
			Spec:   corev1alpha1.VirtualMachineInterfaceSpec{VirtualNetworkReference: corev1alpha1.ResourceReference{Name: vn.Name}},
			Status: corev1alpha1.VirtualMachineInterfaceStatus{CommonStatus: corev1alpha1.CommonStatus{State: corev1alpha1.StateFailure}}}
		vm := &corev1alpha1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("onewrite")},
			Spec: corev1alpha1.VirtualMachineSpec{ServerNamespace: "default", ServerName: "onewrite"}}
		for _, o := range []client.Object{iip, vmi, vm} {
			list := map[client.Object]client.ObjectList{iip: &corev1alpha1.InstanceIPList{}, vmi: &corev1alpha1.VirtualMachineInterfaceList{},
				vm: &corev1alpha1.VirtualMachineList{}}[o]
			w, err := watcher.Watch(ctx, list, client.MatchingFields{"metadata.name": o.GetName()})
			Expect(err).NotTo(HaveOccurred())
			defer w.Stop()
			Expect(create(o)).To(Succeed())
			Eventually(stateOf(o)).Should(Equal("Success"), "%T %s", o, o.GetName())
			cs := o.(corev1alpha1.Object).GetCommonStatus()
			Expect(cs.ObservedGeneration).To(Equal(o.GetGeneration()), "%T %s", o, o.GetName())
			Expect(meta.FindStatusCondition(cs.Conditions, controllers.ConditionReady).ObservedGeneration).To(Equal(o.GetGeneration()))
			// The create, then the controller's one write: nothing more.
			var events []string
			for drained := false; !drained; {
				select {
				case e := <-w.ResultChan():
					obj := e.Object.(client.Object)
					events = append(events, fmt.Sprintf("%s generation %d state %q", e.Type, obj.GetGeneration(),
						obj.(corev1alpha1.Object).GetCommonStatus().State))
				case <-time.After(2 * time.Second):
					drained = true
				}
			}
			Expect(events).To(Equal([]string{`ADDED generation 1 state ""`, `MODIFIED generation 2 state "Success"`}), "%T %s", o, o.GetName())
		}
		Expect(iip.Status.Network).To(Equal("default/onewrite"))
		Expect(iip.Finalizers).To(ContainElement(controllers.FinalizerInstanceIP))
		Expect(vmi.Finalizers).To(ContainElement(controllers.FinalizerMACDeallocation))
		Expect(vmi.Spec.VirtualMachineInterfaceMacAddresses.MACAddress).To(HaveLen(1))

		// Someone else's update: its spec and metadata change, the status
		// stays (the apiserver's answer is what it stored).
		Expect(update(iip, func(iip *corev1alpha1.InstanceIP) {
			iip.Labels = map[string]string{"edited": "yes"}
			iip.Status.State, iip.Status.Observation = corev1alpha1.StateFailure, "forged"
		})).To(Succeed())
		Expect(iip.Labels).To(HaveKeyWithValue("edited", "yes"))
		Expect(iip.Status.State).To(Equal(corev1alpha1.StateSuccess))
		Expect(iip.Status.Observation).To(BeEmpty())
		Expect(update(vmi, func(vmi *corev1alpha1.VirtualMachineInterface) {
			vmi.Spec.PodName = "edited"
			vmi.Status = corev1alpha1.VirtualMachineInterfaceStatus{}
		})).To(Succeed())
		Expect(vmi.Spec.PodName).To(Equal("edited"))
		Expect(vmi.Status.State).To(Equal(corev1alpha1.StateSuccess))
		// A spec change is a new generation, which the controller's next
		// write names.
		Eventually(func() string {
			get(vmi)
			return fmt.Sprintf("generation %d observed %d", vmi.Generation, vmi.Status.ObservedGeneration)
		}).Should(Equal("generation 4 observed 4"))
	})

	It("never hands out an address twice nor loses one when stopped in the middle of a burst", func() {
		vn := network("restart", "10.30.0.0/24")
		iips := make([]*corev1alpha1.InstanceIP, 150)
		for i := range iips {
			iips[i] = instanceIP(fmt.Sprintf("restart-%03d", i), vn, "")
		}
		createAll(iips)
		// Stop the controller once some, not all, have their address.
		succeeded := func() int {
			var list corev1alpha1.InstanceIPList
			Expect(k8sClient.List(ctx, &list)).To(Succeed())
			n := 0
			for _, iip := range list.Items {
				if strings.HasPrefix(iip.Name, "restart-") && iip.Status.State == corev1alpha1.StateSuccess {
					n++
				}
			}
			return n
		}
		Eventually(succeeded).WithPolling(5 * time.Millisecond).Should(BeNumerically(">=", 10))
		stopController()
		atStop := succeeded()
		stopController = startController()
		Expect(atStop).To(BeNumerically("<", len(iips)), "the controller finished before it was stopped: the spec tests no restart")
		GinkgoWriter.Printf("controller stopped with %d of %d InstanceIPs allocated\n", atStop, len(iips))

		addrs := addresses(iips)
		expectDistinctIn(addrs, "10.30.0.0/24")
		Eventually(subnetUsage("default", "restart-v4")).Should(HavePrefix("153 "))

		// The restarted controller knows every address: a static request for
		// a held one fails, and deleting them all frees them all.
		taken := instanceIP("restart-taken", vn, addrs[0])
		Expect(create(taken)).To(Succeed())
		Eventually(stateOf(taken)).Should(Equal("Failure requested address " + addrs[0] + " is taken by InstanceIP " + iips[0].Name))
		for _, iip := range iips {
			Expect(k8sClient.Delete(ctx, iip)).To(Succeed())
		}
		Eventually(subnetUsage("default", "restart-v4")).Should(HavePrefix("4 ")) // the now free static one took its address
		Eventually(stateOf(taken)).Should(Equal("Success"))
	})

	It("allocates IPv6 addresses from a network's v6 subnet", func() {
		sn := &corev1alpha1.Subnet{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "dual-v6"},
			Spec: corev1alpha1.SubnetSpec{CIDR: "fd00:10::/64"}}
		Expect(create(sn)).To(Succeed())
		vn := network("dual", "10.45.0.0/24")
		Expect(update(vn, func(vn *corev1alpha1.VirtualNetwork) {
			vn.Spec.V6SubnetReference = &corev1alpha1.ResourceReference{Name: "dual-v6"}
		})).To(Succeed())
		Eventually(func() string { return get(vn).Status.IPFamilies }).Should(Equal("v4,v6"))

		v4 := instanceIP("dual-pod-v4", vn, "")
		v6 := instanceIP("dual-pod-v6", vn, "")
		v6.Spec.InstanceIPFamily = corev1alpha1.IPFamilyV6
		Expect(create(v4)).To(Succeed())
		Expect(create(v6)).To(Succeed())
		Expect(addresses([]*corev1alpha1.InstanceIP{v4, v6})).To(Equal([]string{"10.45.0.2", "fd00:10::2"}))
		Eventually(subnetUsage("default", "dual-v6")).Should(Equal("3 0.00%"))
	})

	It("fails the InstanceIPs beyond a /29 cleanly and gives them addresses once some are freed", func() {
		vn := network("small", "10.40.0.0/29")
		iips := make([]*corev1alpha1.InstanceIP, 7)
		for i := range iips {
			iips[i] = instanceIP(fmt.Sprintf("small-%d", i), vn, "")
		}
		createAll(iips)
		var ok, failed []*corev1alpha1.InstanceIP
		Eventually(func() int {
			ok, failed = nil, nil
			for _, iip := range iips {
				switch s := stateOf(iip)(); {
				case s == "Success":
					ok = append(ok, iip)
				case strings.HasPrefix(s, "Failure"):
					failed = append(failed, iip)
				}
			}
			return len(ok)*10 + len(failed)
		}).Should(Equal(52), "5 succeed (8 - network, gateway, broadcast), 2 fail")
		for _, iip := range failed {
			Expect(stateOf(iip)()).To(Equal("Failure Subnet default/small-v4 (10.40.0.0/29) is exhausted: all 8 of its addresses are in use; this InstanceIP gets one when one is freed"))
			Expect(iip.Spec.InstanceIPAddress).To(BeEmpty(), "a failed InstanceIP holds no address")
			Eventually(warningEvent(iip, controllers.ReasonSubnetExhausted)).Should(ContainSubstring("is exhausted"))
		}
		Eventually(subnetUsage("default", "small-v4")).Should(Equal("8 100.00%"))

		Expect(k8sClient.Delete(ctx, ok[0])).To(Succeed())
		Expect(k8sClient.Delete(ctx, ok[1])).To(Succeed())
		expectDistinctIn(addresses(append(ok[2:], failed...)), "10.40.0.0/29")
	})

	Context("bad input", func() {
		var vn *corev1alpha1.VirtualNetwork
		BeforeEach(func() { vn = network(uniqueName("bad"), "10.50.0.0/24") })

		It("fails a static address another InstanceIP holds, holding nothing for it", func() {
			first := instanceIP(uniqueName("first"), vn, "10.50.0.10")
			Expect(create(first)).To(Succeed())
			Eventually(stateOf(first)).Should(Equal("Success"))
			Eventually(subnetUsage("default", vn.Name+"-v4")).Should(HavePrefix("4 "))

			second := instanceIP(uniqueName("second"), vn, "10.50.0.10")
			Expect(create(second)).To(Succeed())
			Eventually(stateOf(second)).Should(Equal("Failure requested address 10.50.0.10 is taken by InstanceIP " + first.Name))
			Eventually(warningEvent(second, controllers.ReasonAddressTaken)).Should(ContainSubstring("is taken by InstanceIP " + first.Name))
			Consistently(subnetUsage("default", vn.Name+"-v4"), "1s").Should(HavePrefix("4 "))
		})

		It("fails a static address outside the network's subnet", func() {
			// Made before its network exists, so admission cannot check it.
			later := &corev1alpha1.VirtualNetwork{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: uniqueName("later")}}
			iip := instanceIP(uniqueName("outside"), later, "10.99.0.5")
			Expect(create(iip)).To(Succeed())
			Eventually(stateOf(iip)).Should(Equal("Failure VirtualNetwork default/" + later.Name + " not found"))
			network(later.Name, "10.60.0.0/24")
			Eventually(stateOf(iip)).Should(Equal("Failure requested address 10.99.0.5 cannot be allocated from Subnet default/" +
				later.Name + "-v4 (10.60.0.0/24): 10.99.0.5 is outside subnet 10.60.0.0/24"))
			Eventually(warningEvent(iip, controllers.ReasonAddressOutside)).Should(ContainSubstring("is outside subnet"))
		})

		It("fails a network whose Subnet does not exist, and recovers when it appears", func() {
			missing := &corev1alpha1.VirtualNetwork{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: uniqueName("nosubnet")},
				Spec: corev1alpha1.VirtualNetworkSpec{V4SubnetReference: &corev1alpha1.ResourceReference{Name: "not-there"}}}
			Expect(create(missing)).To(Succeed())
			Eventually(stateOf(missing)).Should(Equal("Failure Subnet default/not-there (v4SubnetReference) not found"))
			Eventually(warningEvent(missing, controllers.ReasonSubnetNotFound)).Should(ContainSubstring("not-there"))
			Expect(create(&corev1alpha1.Subnet{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "not-there"},
				Spec: corev1alpha1.SubnetSpec{CIDR: "10.70.0.0/24"}})).To(Succeed())
			Eventually(stateOf(missing)).Should(Equal("Success"))
		})

		It("fails a multicast MAC and a MAC another interface holds, and allocates one otherwise", func() {
			vmi := func(mac string) *corev1alpha1.VirtualMachineInterface {
				o := &corev1alpha1.VirtualMachineInterface{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: uniqueName("vmi")},
					Spec: corev1alpha1.VirtualMachineInterfaceSpec{VirtualNetworkReference: corev1alpha1.ResourceReference{Name: vn.Name}}}
				if mac != "" {
					o.Spec.VirtualMachineInterfaceMacAddresses.MACAddress = []corev1alpha1.MACAddress{corev1alpha1.MACAddress(mac)}
				}
				return o
			}
			allocated := vmi("")
			Expect(create(allocated)).To(Succeed())
			Eventually(stateOf(allocated)).Should(Equal("Success"))
			mac := string(allocated.Spec.VirtualMachineInterfaceMacAddresses.MACAddress[0])
			Expect(mac).To(MatchRegexp(`^02(:[0-9a-f]{2}){5}$`))

			multicast := vmi("01:00:5e:00:00:fb")
			Expect(create(multicast)).To(Succeed())
			Eventually(stateOf(multicast)).Should(ContainSubstring("Failure requested MAC: 01:00:5e:00:00:fb is a multicast MAC"))
			Eventually(warningEvent(multicast, controllers.ReasonInvalidMAC)).Should(ContainSubstring("multicast"))

			dup := vmi(mac)
			Expect(create(dup)).To(Succeed())
			Eventually(stateOf(dup)).Should(Equal(fmt.Sprintf("Failure requested MAC %s is taken by VirtualMachineInterface default/%s", mac, allocated.Name)))
			Eventually(warningEvent(dup, controllers.ReasonMACTaken)).Should(ContainSubstring("is taken"))

			seed := vmi("02:21:0f:f6:47:fc")
			Expect(create(seed)).To(Succeed())
			Eventually(stateOf(seed)).Should(Equal("Success"))
		})
	})
})

// vnrRouteTargets reads the route targets a router wrote into a network's
// routing instance, as "<name>:<importExport>".
func vnrRouteTargets(network, router string) func() []string {
	return func() []string {
		ri := &corev1alpha1.RoutingInstance{}
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: "default", Name: network}, ri); err != nil {
			return []string{err.Error()}
		}
		var out []string
		for _, ref := range ri.Status.VirtualNetworkRouterRouteTargetReferences["default/"+router] {
			out = append(out, ref.Name+":"+string(ref.Attributes.ImportExport))
		}
		return out
	}
}

// labelled creates a network carrying labels.
func labelled(name, cidr string, lbls map[string]string) *corev1alpha1.VirtualNetwork {
	GinkgoHelper()
	vn := network(name, cidr)
	Expect(update(vn, func(vn *corev1alpha1.VirtualNetwork) { vn.Labels = lbls })).To(Succeed())
	return vn
}

var _ = Describe("VirtualNetworkRouter", func() {
	rtName := func(vnr *corev1alpha1.VirtualNetworkRouter) string {
		Eventually(func() string { return string(get(vnr).Status.RouteTarget) }).ShouldNot(BeEmpty())
		v, err := corev1alpha1.ParseRouteTarget(string(vnr.Status.RouteTarget))
		Expect(err).NotTo(HaveOccurred())
		return v.ObjectName()
	}

	It("mesh: the selected networks import and export one route target, and lose it when they leave", func() {
		red := labelled("mesh-red", "10.81.0.0/24", map[string]string{"web": "mesh"})
		blue := labelled("mesh-blue", "10.82.0.0/24", map[string]string{"web": "mesh"})
		labelled("mesh-green", "10.83.0.0/24", map[string]string{"web": "other"})
		vnr := &corev1alpha1.VirtualNetworkRouter{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web-mesh"},
			Spec: corev1alpha1.VirtualNetworkRouterSpec{Type: corev1alpha1.VirtualNetworkRouterMesh,
				VirtualNetworkSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"web": "mesh"}}}}
		Expect(create(vnr)).To(Succeed())
		rt := rtName(vnr)
		Eventually(vnrRouteTargets("mesh-red", "web-mesh")).Should(Equal([]string{rt + ":"}))
		Eventually(vnrRouteTargets("mesh-blue", "web-mesh")).Should(Equal([]string{rt + ":"}))
		Consistently(vnrRouteTargets("mesh-green", "web-mesh"), "500ms").Should(BeEmpty())
		Eventually(func() []string { return get(vnr).Status.VirtualNetworks }).Should(Equal([]string{"default/mesh-blue", "default/mesh-red"}))

		Expect(update(blue, func(vn *corev1alpha1.VirtualNetwork) { vn.Labels = nil })).To(Succeed())
		Eventually(vnrRouteTargets("mesh-blue", "web-mesh")).Should(BeEmpty())
		Expect(vnrRouteTargets("mesh-red", "web-mesh")()).To(Equal([]string{rt + ":"}))

		Expect(k8sClient.Delete(ctx, vnr)).To(Succeed())
		Eventually(vnrRouteTargets("mesh-red", "web-mesh")).Should(BeEmpty())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Name: rt}, &corev1alpha1.RouteTarget{}))
		}).Should(BeTrue())
		_ = red
	})

	It("hub and spoke: hubs export theirs and import the spokes', spokes the other way round", func() {
		labelled("hs-hub", "10.84.0.0/24", map[string]string{"role": "hub"})
		labelled("hs-spoke", "10.85.0.0/24", map[string]string{"role": "spoke"})
		hub := &corev1alpha1.VirtualNetworkRouter{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "hub",
			Labels: map[string]string{"vnr": "hub"}},
			Spec: corev1alpha1.VirtualNetworkRouterSpec{Type: corev1alpha1.VirtualNetworkRouterHub,
				VirtualNetworkSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "hub"}},
				Import: corev1alpha1.VirtualNetworkRouterImport{VirtualNetworkRouters: []corev1alpha1.ImportedVirtualNetworkRouter{{
					VirtualNetworkRouterSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"vnr": "spoke"}}}}}}}
		spoke := &corev1alpha1.VirtualNetworkRouter{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "spoke",
			Labels: map[string]string{"vnr": "spoke"}},
			Spec: corev1alpha1.VirtualNetworkRouterSpec{Type: corev1alpha1.VirtualNetworkRouterSpoke,
				VirtualNetworkSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "spoke"}},
				Import: corev1alpha1.VirtualNetworkRouterImport{VirtualNetworkRouters: []corev1alpha1.ImportedVirtualNetworkRouter{{
					VirtualNetworkRouterSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"vnr": "hub"}}}}}}}
		Expect(create(hub)).To(Succeed())
		Expect(create(spoke)).To(Succeed())
		h, s := rtName(hub), rtName(spoke)
		Eventually(vnrRouteTargets("hs-hub", "hub")).Should(Equal([]string{h + ":export", s + ":import"}))
		Eventually(vnrRouteTargets("hs-spoke", "spoke")).Should(Equal([]string{s + ":export", h + ":import"}))
	})
})

var _ = Describe("Controller replicas", func() {
	It("are ready only once their caches have listed their objects, before any lease: a rollout hands the lease to a replica whose caches are filled", func() {
		c, err := cache.New(cfg, cache.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
		_, err = c.GetInformer(ctx, &corev1alpha1.InstanceIP{})
		Expect(err).NotTo(HaveOccurred())
		ready := component.CachesSynced(c)
		req := httptest.NewRequest("GET", "/readyz", nil)
		Expect(ready(req)).To(MatchError(ContainSubstring("the caches have not synced yet")), "ready before its caches started")
		cacheCtx, cancel := context.WithCancel(ctx)
		DeferCleanup(cancel)
		go func() { _ = c.Start(cacheCtx) }()
		Eventually(func() error { return ready(req) }).Should(Succeed())
	})

	It("elect one leader, and the next leader never hands out an address twice", func() {
		stopController()
		DeferCleanup(func() { stopController = startController() })
		const lease = "kontrail-controller-envtest"
		elected := func(o *ctrl.Options) {
			o.LeaderElection = true
			o.LeaderElectionID = lease
			o.LeaderElectionNamespace = "default"
			o.LeaderElectionReleaseOnCancel = true
			o.LeaseDuration = ptr.To(3 * time.Second)
			o.RenewDeadline = ptr.To(2 * time.Second)
			o.RetryPeriod = ptr.To(200 * time.Millisecond)
		}
		start := func() func() error {
			stop, err := env.StartController(ctx, controllers.Options{AutonomousSystem: 64512, Workers: 8}, elected)
			Expect(err).NotTo(HaveOccurred())
			return stop
		}
		holder := func() string {
			l := &coordinationv1.Lease{}
			if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: "default", Name: lease}, l); err != nil || l.Spec.HolderIdentity == nil {
				return ""
			}
			return *l.Spec.HolderIdentity
		}

		stopFirst := start()
		Eventually(holder).ShouldNot(BeEmpty())
		first := holder()
		stopSecond := start() // waits: the first holds the lease
		DeferCleanup(func() { Expect(stopSecond()).To(Succeed()) })

		vn := network("replicas", "10.90.0.0/24")
		batch := func(prefix string) []*corev1alpha1.InstanceIP {
			iips := make([]*corev1alpha1.InstanceIP, 40)
			for i := range iips {
				iips[i] = instanceIP(fmt.Sprintf("%s-%02d", prefix, i), vn, "")
			}
			createAll(iips)
			return iips
		}
		before := addresses(batch("replicas-a"))

		Expect(stopFirst()).To(Succeed())
		Eventually(holder).ShouldNot(Or(BeEmpty(), Equal(first)), "the second replica took over")
		after := addresses(batch("replicas-b"))
		expectDistinctIn(append(before, after...), "10.90.0.0/24")
		Eventually(subnetUsage("default", "replicas-v4")).Should(HavePrefix("83 "))
	})
})
