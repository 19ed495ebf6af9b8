package envtest

import (
	"encoding/json"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
	"github.com/kontrail/kontrail/components/apiserver/webhook"
	"github.com/kontrail/kontrail/components/kubemanager/kubemanager"
	"github.com/kontrail/kontrail/tests/internal/testenv"
)

// The webhooks of VirtualMachines, VirtualMachineInterfaces and
// InstanceIPs skip the writes of the controller's and kubemanager's
// accounts (the matchCondition of config/webhook.Configurations, which
// the suite installs as the operator does): the CRDs' CEL checks all that
// the webhooks check of one object, for every writer, with the webhooks'
// messages.

// componentClient is a client acting as one of the components' users.
func componentClient(user string) client.Client {
	GinkgoHelper()
	cfg := env.ControllerConfig
	if user == testenv.KubemanagerUser {
		cfg = env.KubemanagerConfig
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	return c
}

// webhooksStopped says whether a spec stopped the suite's webhook server.
var webhooksStopped bool

// stopWebhookServer stops the suite's webhook server until the spec ends
// (or restartWebhookServer): nothing answers the webhook configurations.
func stopWebhookServer() {
	GinkgoHelper()
	Expect(stopWebhooks()).To(Succeed())
	webhooksStopped = true
	DeferCleanup(restartWebhookServer)
}

func restartWebhookServer() {
	GinkgoHelper()
	if !webhooksStopped {
		return
	}
	var err error
	stopWebhooks, err = env.StartWebhookServer(ctx)
	Expect(err).NotTo(HaveOccurred())
	webhooksStopped = false
}

// cleanup deletes obj after the spec, with the webhooks back (deletions
// of interfaces and addresses go to the webhook, whoever writes them).
func cleanup(obj client.Object) {
	DeferCleanup(func() {
		restartWebhookServer()
		Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, obj))).To(Succeed())
	})
}

// updateAs changes obj as c, retrying on conflicts (the controller writes these too).
func updateAs[T client.Object](c client.Client, obj T, change func(T)) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		change(obj)
		return c.Update(ctx, obj)
	})
}

// webhookMessages are the field errors the webhook's own validators give,
// one by one: the apiserver's answer must carry each.
func webhookMessages(errs field.ErrorList) []string {
	GinkgoHelper()
	Expect(errs).NotTo(BeEmpty(), "the webhook's validator accepts it")
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func containsAll(err error, messages []string) {
	GinkgoHelper()
	Expect(err).To(HaveOccurred())
	for _, m := range messages {
		Expect(err.Error()).To(ContainSubstring(m))
	}
}

var _ = Describe("Admission of the components' own writes", func() {
	// A network that does not exist: admission admits it (made in any
	// order), and the controller allocates nothing on it.
	net := corev1alpha1.ResourceReference{Namespace: "default", Name: "cadm-nowhere"}
	newVM := func() *corev1alpha1.VirtualMachine {
		vm := &corev1alpha1.VirtualMachine{ObjectMeta: cluster("cvm"), Spec: corev1alpha1.VirtualMachineSpec{ServerNamespace: "default", ServerName: "p"}}
		corev1alpha1.DefaultVirtualMachine(vm)
		return vm
	}
	newVMI := func() *corev1alpha1.VirtualMachineInterface {
		vmi := &corev1alpha1.VirtualMachineInterface{ObjectMeta: ns("cvmi"), Spec: corev1alpha1.VirtualMachineInterfaceSpec{
			VirtualNetworkReference: net, InterfaceName: "eth1"}}
		corev1alpha1.DefaultVirtualMachineInterface(vmi)
		return vmi
	}
	newIIP := func(addr string) *corev1alpha1.InstanceIP {
		iip := &corev1alpha1.InstanceIP{ObjectMeta: cluster("ciip"), Spec: corev1alpha1.InstanceIPSpec{
			InstanceIPAddress: addr, VirtualNetworkReference: net}}
		corev1alpha1.DefaultInstanceIP(iip)
		return iip
	}

	It("skips the webhooks for the components' writes, and no one else's, with the webhook server down", func() {
		km, ctl := componentClient(testenv.KubemanagerUser), componentClient(testenv.ControllerUser)
		stopWebhookServer()

		By("kubemanager makes a VirtualMachine, an interface and an address to allocate; the controller writes them")
		vm, vmi, iip := newVM(), newVMI(), newIIP("")
		for _, o := range []client.Object{vm, vmi, iip} {
			Expect(km.Create(ctx, o)).To(Succeed(), "%T", o)
			cleanup(o)
		}
		Expect(updateAs(ctl, vmi, func(vmi *corev1alpha1.VirtualMachineInterface) { vmi.Annotations = map[string]string{"a": "b"} })).To(Succeed())
		Expect(updateAs(ctl, iip, func(iip *corev1alpha1.InstanceIP) { iip.Spec.InstanceIPAddress = "172.16.99.5" })).To(Succeed())
		Expect(updateAs(km, vm, func(vm *corev1alpha1.VirtualMachine) { vm.Annotations = map[string]string{"a": "b"} })).To(Succeed())

		By("everyone else's writes of the same kinds need the webhooks, and fail without them")
		for _, o := range []client.Object{newVM(), newVMI(), newIIP("")} {
			Expect(k8sClient.Create(ctx, o)).To(MatchError(ContainSubstring("failed calling webhook")), "%T", o)
		}
		Expect(updateAs(k8sClient, vm, func(vm *corev1alpha1.VirtualMachine) { vm.Annotations = map[string]string{"a": "c"} })).
			To(MatchError(ContainSubstring("failed calling webhook")))

		By("what only the webhooks check still goes to them from the components: deletions, a requested address")
		Expect(km.Delete(ctx, vmi)).To(MatchError(ContainSubstring("failed calling webhook")))
		Expect(ctl.Delete(ctx, iip)).To(MatchError(ContainSubstring("failed calling webhook")))
		Expect(km.Create(ctx, newIIP("172.16.99.6"))).To(MatchError(ContainSubstring("failed calling webhook")))
		Expect(km.Delete(ctx, vm)).To(Succeed(), "a VirtualMachine's deletion has no webhook")

		By("with the webhooks back, the others' writes pass again")
		restartWebhookServer()
		other := newVMI()
		Eventually(func() error { return k8sClient.Create(ctx, other) }).Should(Succeed())
		cleanup(other)
	})

	It("refuses the components' bad interfaces and addresses by the CRDs' CEL, with the webhook's messages, with the webhook server down", func() {
		km, ctl := componentClient(testenv.KubemanagerUser), componentClient(testenv.ControllerUser)
		vmi, iip := newVMI(), newIIP("")
		Expect(km.Create(ctx, vmi)).To(Succeed())
		cleanup(vmi)
		Expect(km.Create(ctx, iip)).To(Succeed())
		cleanup(iip)
		stopWebhookServer()

		By("an interface: a bad MAC, no network, its network changed")
		bad := newVMI()
		bad.Spec.VirtualMachineInterfaceMacAddresses.MACAddress = []corev1alpha1.MACAddress{"02:21:0f:f6:47"}
		containsAll(km.Create(ctx, bad), webhookMessages(webhook.ValidateVirtualMachineInterface(bad)))
		bad = newVMI()
		bad.Spec.VirtualNetworkReference.Name = ""
		containsAll(km.Create(ctx, bad), webhookMessages(webhook.ValidateVirtualMachineInterface(bad)))
		old := get(vmi).DeepCopy()
		err := updateAs(ctl, vmi, func(vmi *corev1alpha1.VirtualMachineInterface) { vmi.Spec.VirtualNetworkReference.Name = "vn-other" })
		changed := old.DeepCopy()
		changed.Spec.VirtualNetworkReference.Name = "vn-other"
		containsAll(err, webhookMessages(webhook.ValidateVirtualMachineInterfaceUpdate(old, changed)))

		By("an address: its network's namespace missing, of the wrong family, changed, removed, its network changed")
		bad2 := newIIP("")
		bad2.Spec.VirtualNetworkReference.Namespace = ""
		containsAll(km.Create(ctx, bad2), webhookMessages(webhook.ValidateInstanceIP(bad2)))
		wrong := get(iip).DeepCopy()
		wrong.Spec.InstanceIPAddress = "fd00::5"
		containsAll(updateAs(ctl, iip, func(iip *corev1alpha1.InstanceIP) { iip.Spec.InstanceIPAddress = "fd00::5" }),
			webhookMessages(webhook.ValidateInstanceIP(wrong)))
		Expect(updateAs(ctl, iip, func(iip *corev1alpha1.InstanceIP) { iip.Spec.InstanceIPAddress = "172.16.99.7" })).To(Succeed())
		held := get(iip).DeepCopy()
		for _, change := range []func(*corev1alpha1.InstanceIP){
			func(iip *corev1alpha1.InstanceIP) { iip.Spec.InstanceIPAddress = "172.16.99.8" },
			func(iip *corev1alpha1.InstanceIP) { iip.Spec.InstanceIPAddress = "" },
			func(iip *corev1alpha1.InstanceIP) { iip.Spec.VirtualNetworkReference.Namespace = "elsewhere" },
		} {
			changed := held.DeepCopy()
			change(changed)
			containsAll(updateAs(ctl, iip, change), webhookMessages(webhook.ValidateInstanceIPUpdate(held, changed)))
		}
		Expect(get(iip).Spec.InstanceIPAddress).To(Equal("172.16.99.7"))
	})

	DescribeTable("gives everyone else's bad input the webhook's own messages, now the CRDs'",
		func(obj client.Object, change func(client.Object), messages func(old, obj client.Object) field.ErrorList) {
			Expect(create(obj)).To(Succeed())
			old := obj.DeepCopyObject().(client.Object)
			err := update(obj, change)
			changed := old.DeepCopyObject().(client.Object)
			change(changed)
			containsAll(err, webhookMessages(messages(old, changed)))
		},
		Entry("an interface's network name removed",
			&corev1alpha1.VirtualMachineInterface{ObjectMeta: ns("uvmi"), Spec: corev1alpha1.VirtualMachineInterfaceSpec{VirtualNetworkReference: net}},
			func(o client.Object) {
				o.(*corev1alpha1.VirtualMachineInterface).Spec.VirtualNetworkReference.Name = ""
			},
			func(_, o client.Object) field.ErrorList {
				return webhook.ValidateVirtualMachineInterface(o.(*corev1alpha1.VirtualMachineInterface))
			}),
		Entry("an interface's network changed",
			&corev1alpha1.VirtualMachineInterface{ObjectMeta: ns("uvmi"), Spec: corev1alpha1.VirtualMachineInterfaceSpec{VirtualNetworkReference: net}},
			func(o client.Object) {
				o.(*corev1alpha1.VirtualMachineInterface).Spec.VirtualNetworkReference.Name = "vn2"
			},
			func(old, o client.Object) field.ErrorList {
				return webhook.ValidateVirtualMachineInterfaceUpdate(old.(*corev1alpha1.VirtualMachineInterface), o.(*corev1alpha1.VirtualMachineInterface))
			}),
		Entry("an address without its network's name",
			&corev1alpha1.InstanceIP{ObjectMeta: cluster("uiip"), Spec: corev1alpha1.InstanceIPSpec{VirtualNetworkReference: net}},
			func(o client.Object) { o.(*corev1alpha1.InstanceIP).Spec.VirtualNetworkReference.Name = "" },
			func(_, o client.Object) field.ErrorList {
				return webhook.ValidateInstanceIP(o.(*corev1alpha1.InstanceIP))
			}),
		Entry("an address of the wrong family",
			&corev1alpha1.InstanceIP{ObjectMeta: cluster("uiip"), Spec: corev1alpha1.InstanceIPSpec{VirtualNetworkReference: net}},
			func(o client.Object) { o.(*corev1alpha1.InstanceIP).Spec.InstanceIPAddress = "fd00::9" },
			func(_, o client.Object) field.ErrorList {
				return webhook.ValidateInstanceIP(o.(*corev1alpha1.InstanceIP))
			}),
		Entry("an address removed",
			&corev1alpha1.InstanceIP{ObjectMeta: cluster("uiip"), Spec: corev1alpha1.InstanceIPSpec{InstanceIPAddress: "172.16.98.1", VirtualNetworkReference: net}},
			func(o client.Object) { o.(*corev1alpha1.InstanceIP).Spec.InstanceIPAddress = "" },
			func(old, o client.Object) field.ErrorList {
				return webhook.ValidateInstanceIPUpdate(old.(*corev1alpha1.InstanceIP), o.(*corev1alpha1.InstanceIP))
			}),
		Entry("an address's network changed",
			&corev1alpha1.InstanceIP{ObjectMeta: cluster("uiip"), Spec: corev1alpha1.InstanceIPSpec{VirtualNetworkReference: net}},
			func(o client.Object) {
				o.(*corev1alpha1.InstanceIP).Spec.VirtualNetworkReference.Namespace = "elsewhere"
			},
			func(old, o client.Object) field.ErrorList {
				return webhook.ValidateInstanceIPUpdate(old.(*corev1alpha1.InstanceIP), o.(*corev1alpha1.InstanceIP))
			}),
	)

	It("gets a pod's VirtualMachine, interfaces and addresses from kubemanager and the controller already defaulted", func() {
		p := pod("default", uniqueName("defaulted"), "")
		Expect(networkStatus(p)).NotTo(BeEmpty())
		byPod := client.MatchingLabels{corev1alpha1.LabelPodUID: string(p.UID)}
		var vms corev1alpha1.VirtualMachineList
		var vmis corev1alpha1.VirtualMachineInterfaceList
		var iips corev1alpha1.InstanceIPList
		Expect(k8sClient.List(ctx, &vms, byPod)).To(Succeed())
		Expect(k8sClient.List(ctx, &vmis, byPod)).To(Succeed())
		Expect(k8sClient.List(ctx, &iips, byPod)).To(Succeed())
		Expect(vms.Items).To(HaveLen(1))
		Expect(vmis.Items).NotTo(BeEmpty())
		Expect(iips.Items).NotTo(BeEmpty())
		for _, vm := range vms.Items {
			d := vm.DeepCopy()
			corev1alpha1.DefaultVirtualMachine(d)
			Expect(d.Spec).To(Equal(vm.Spec), "VirtualMachine %s", vm.Name)
			Expect(vm.Spec.Workload).To(Equal("/default/" + p.Name))
		}
		for _, vmi := range vmis.Items {
			d := vmi.DeepCopy()
			corev1alpha1.DefaultVirtualMachineInterface(d)
			Expect(d.Spec).To(Equal(vmi.Spec), "VirtualMachineInterface %s", vmi.Name)
			Expect(vmi.Spec.FQName).NotTo(BeEmpty())
			Expect(vmi.Spec.VirtualMachineInterfaceMacAddresses.MACAddress).NotTo(BeEmpty(), "allocated")
		}
		for _, iip := range iips.Items {
			d := iip.DeepCopy()
			corev1alpha1.DefaultInstanceIP(d)
			Expect(d.Spec).To(Equal(iip.Spec), "InstanceIP %s", iip.Name)
			Expect(iip.Spec.InstanceIPAddress).NotTo(BeEmpty(), "allocated")
		}
	})

	It("still refuses a pod's interface on a network of another cluster: kubemanager checks it, as the webhook did", func() {
		foreign := network(uniqueName("foreign"), "172.28.5.0/24")
		Expect(update(foreign, func(vn *corev1alpha1.VirtualNetwork) {
			vn.Labels = map[string]string{corev1alpha1.LabelClusterName: "another-cluster"}
		})).To(Succeed())
		mapping := nad("default", uniqueName("to-foreign"), map[string]string{
			kubemanager.AnnotationOpenContrailNetwork: `{"project": "default", "name": "` + foreign.Name + `"}`})
		Eventually(annotation(mapping, kubemanager.AnnotationNetworksStatus)).Should(HavePrefix("success mapping"))
		p := pod("default", uniqueName("foreigner"), mapping.Name)
		want := `belongs to cluster "another-cluster", not to this interface's cluster "contrail-k8s-kubemanager-mk"`
		Eventually(annotation(p, kubemanager.AnnotationNetworksStatus)).Should(And(HavePrefix("failure: "), ContainSubstring(want)))
		var problem corev1alpha1.PodProblem
		Expect(json.Unmarshal([]byte(annotation(p, corev1alpha1.AnnotationPodProblem)()), &problem)).To(Succeed())
		Expect(problem.Reason).To(Equal(corev1alpha1.PodProblemInvalidNetworks))
		Expect(problem.Retry).To(BeFalse())
		Eventually(podObjects(p)).Should(Equal("vm=0 vmi=0 iip=0"))
	})
})
