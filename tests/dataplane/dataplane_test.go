package dataplane

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
)

var _ = Describe("Pods on the seed's vn1", func() {
	It("get eth0 and eth1 with exactly the IPs and MACs kubemanager published, and reach each other across nodes", func() {
		nad("default", "vn1", "172.16.10.0/24")
		a := newPod("default", "vn1-pod", node1, "vn1")
		b := newPod("default", "vn1-pod-2", node2, "vn1")
		a.mustAdd()
		b.mustAdd()

		By("the interfaces are those of the network-status annotation")
		for _, p := range []*Pod{a, b} {
			got := p.interfaces()
			Expect(got).To(HaveLen(2))
			for _, st := range networkStatus(p) {
				Expect(got).To(HaveKey(st.Interface))
				Expect(got[st.Interface].MAC).To(Equal(st.Mac), "%s %s", p.Obj.Name, st.Interface)
				Expect(got[st.Interface].IPs).To(HaveLen(len(st.IPs)))
				for i, ip := range st.IPs {
					Expect(strings.Split(got[st.Interface].IPs[i], "/")[0]).To(Equal(ip))
				}
			}
			Expect(networkStatus(p)).To(ContainElement(HaveField("Name", "default/vn1")))
		}

		By("...which are those of the pod's VirtualMachineInterfaces and InstanceIPs")
		for _, p := range []*Pod{a, b} {
			got := p.interfaces()
			var vmis corev1alpha1.VirtualMachineInterfaceList
			Expect(k8sClient.List(ctx, &vmis, client.InNamespace(p.Obj.Namespace), client.MatchingLabels{"kube-manager.juniper.net/pod-uid": string(p.Obj.UID)})).To(Succeed())
			Expect(vmis.Items).To(HaveLen(2))
			var iips corev1alpha1.InstanceIPList
			Expect(k8sClient.List(ctx, &iips, client.MatchingLabels{"kube-manager.juniper.net/pod-uid": string(p.Obj.UID)})).To(Succeed())
			for _, vmi := range vmis.Items {
				itf := got[vmi.Spec.InterfaceName]
				Expect(itf.MAC).To(Equal(string(vmi.Spec.VirtualMachineInterfaceMacAddresses.MACAddress[0])))
				for _, iip := range iips.Items {
					if iip.Spec.VirtualMachineInterfaceReferences[0].Name == vmi.Name {
						Expect(itf.IPs).To(ContainElement(HavePrefix(iip.Spec.InstanceIPAddress + "/")))
					}
				}
			}
		}

		By("the CNI result lists every interface, and each IP points at its pod interface")
		res := a.Result
		for _, ip := range res.IPs {
			Expect(ip.Interface).NotTo(BeNil())
			Expect(res.Interfaces[*ip.Interface].Sandbox).To(Equal(a.NS.Path()))
		}
		Expect(res.IPs).To(HaveLen(2))

		By("they ping each other on vn1 and on the pod network, across nodes")
		Eventually(func() error { return ping(a.NS, b.ip("eth1")) }).Should(Succeed())
		Eventually(func() error { return ping(b.NS, a.ip("eth1")) }).Should(Succeed())
		Eventually(func() error { return ping(a.NS, b.ip("eth0")) }).Should(Succeed())

		By("the node reaches its pods on the pod network, as kubelet probes need")
		Expect(ping(node1.NS, a.ip("eth0"))).To(Succeed())
	})
})
