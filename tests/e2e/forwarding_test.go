package e2e

import (
	"fmt"
	"os/exec"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// forwardingNAD is a Contrail NAD (opencontrail.org/cidr) with
// ip_fabric_forwarding on, and ip_fabric_snat on too: forwarding takes
// precedence, so the pods must still leave with their own addresses.
func forwardingNAD(namespace, name, cidr string) string {
	return fmt.Sprintf(`apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata:
  annotations:
    opencontrail.org/cidr: "%s"
    opencontrail.org/ip_fabric_forwarding: "true"
    opencontrail.org/ip_fabric_snat: "true"
  name: %s
  namespace: %s
spec:
  config: '{ "cniVersion": "0.3.0", "type": "contrail-k8s-cni" }'
`, cidr, name, namespace)
}

// onNode runs a command in a node's network namespace.
func onNode(i int, args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", theLab.NodeNetns(i)}, args...)...).CombinedOutput()
	return string(out), err
}

// A network with fabricForwarding (CN2's ip_fabric_forwarding) is routed
// on the fabric without the overlay: no VXLAN device on the nodes, a host
// route per remote pod via its node; its pods on two nodes reach each
// other, and the external host, routing the network's subnet via one
// node, sees the pods' own addresses (no SNAT, though the NAD asks for it).
var _ = Describe("Fabric forwarding", Ordered, Label("fabric-forwarding"), func() {
	const ns, cidr, gateway = "ffwd", "10.97.0.0/24", "10.97.0.1"
	var ip1, ip2, vni string

	BeforeAll(func() {
		k("create", "namespace", ns)
		apply(forwardingNAD(ns, "fabric-net", cidr))
		apply(routingPod(ns, "ff-1", "fabric-net", node1) + "---\n" + routingPod(ns, "ff-2", "fabric-net", node2))
		ip1 = ipOn(networkStatus(ns, "ff-1"), ns+"/fabric-net")
		ip2 = ipOn(networkStatus(ns, "ff-2"), ns+"/fabric-net")
		Expect(ip1).NotTo(BeEmpty())
		Expect(ip2).NotTo(BeEmpty())
		vni = k("-n", ns, "get", "vn", "fabric-net", "-o", "jsonpath={.status.virtualNetworkNetworkId}")
		Expect(vni).NotTo(BeEmpty())
	})

	AfterAll(func() {
		_, _ = exec.Command("ip", "netns", "exec", theLab.ExternalNetns(), "ip", "route", "del", cidr).CombinedOutput()
		k("-n", ns, "delete", "pod", "--all", "--wait=true", "--timeout=2m")
		deleteNamespaces(ns)
	})

	It("the NAD's network is routed on the fabric: pods on two nodes ping each other, no VXLAN device, a host route per remote pod", func() {
		Expect(k("-n", ns, "get", "vn", "fabric-net", "-o", "jsonpath={.spec.fabricForwarding}")).To(Equal("true"))
		Eventually(func() bool { return pings(ns, "ff-1", ip2) }).Should(BeTrue(), "ff-1 (node 1) -> ff-2 %s", ip2)
		Eventually(func() bool { return pings(ns, "ff-2", ip1) }).Should(BeTrue(), "ff-2 (node 2) -> ff-1 %s", ip1)
		for i, peer := range map[int]struct{ ip, node string }{1: {ip2, theLab.NodeIP(2)}, 2: {ip1, theLab.NodeIP(1)}} {
			out, err := onNode(i, "ip", "link", "show", "kvx"+vni)
			Expect(err).To(HaveOccurred(), "node %d has a VXLAN device for the forwarding network: %s", i, out)
			Expect(onNode(i, "ip", "link", "show", "kbr"+vni)).To(ContainSubstring("kbr" + vni))
			out, err = onNode(i, "ip", "route", "show", "proto", "75")
			Expect(err).NotTo(HaveOccurred(), out)
			Expect(out).To(MatchRegexp(`(?m)^%s via %s dev \S+`, strings.ReplaceAll(peer.ip, ".", `\.`), strings.ReplaceAll(peer.node, ".", `\.`)),
				"node %d routes %s via node %s", i, peer.ip, peer.node)
		}
	})

	It("the external host, routing the subnet via node 1, sees each pod's own address (not its node's): no SNAT", func() {
		out, err := exec.Command("ip", "netns", "exec", theLab.ExternalNetns(), "ip", "route", "replace", cidr, "via", theLab.NodeIP(1)).CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		// Each pod reaches the external host through its network's gateway
		// (its default route is eth0's, the pod network's).
		for pod, ip := range map[string]string{"ff-1": ip1, "ff-2": ip2} {
			routeVia(ns, pod, theLab.ExternalIP()+"/32", gateway)
			// ff-2's answer comes back via node 1, which routes it to node 2.
			Eventually(func() string { return fromPod(ns, pod, theLab.ExternalIP(), 80) }, "30s", "1s").
				Should(Equal(ip), "%s -> the external host %s", pod, theLab.ExternalIP())
		}
		log := theLab.LogTail("external-http", 1000)
		Expect(log).To(ContainSubstring("from " + ip1))
		Expect(log).To(ContainSubstring("from " + ip2))
	})

	It("a host route deleted by hand on a node: the agent puts it back", func() {
		out, err := onNode(1, "ip", "route", "del", ip2+"/32", "proto", "75")
		Expect(err).NotTo(HaveOccurred(), out)
		Eventually(func() string { out, _ := onNode(1, "ip", "route", "show", "proto", "75"); return out }, "90s", "2s").
			Should(ContainSubstring(ip2+" via "+theLab.NodeIP(2)), "the agent restores node 1's route to ff-2")
		Eventually(func() bool { return pings(ns, "ff-1", ip2) }).Should(BeTrue())
	})
})
