package dataplane

import (
	"strings"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
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
		_ = nadv1.NetworkStatusAnnot
	})
})
