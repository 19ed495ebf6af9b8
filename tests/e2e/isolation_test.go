package e2e

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Isolation: each network is its own broadcast domain (a VXLAN VNI per
// VirtualNetwork): pods reach their own network's pods only, and two
// networks may use the same CIDR.
var _ = Describe("Isolation between networks", Ordered, Label("isolation"), func() {
	AfterAll(func() {
		k("-n", "iso", "delete", "pod", "--all", "--wait=true", "--timeout=2m")
		deleteNamespaces("iso")
	})

	It("red and blue share a CIDR, green has its own; each pod reaches its own network's pods across nodes and nothing else", func() {
		k("create", "namespace", "iso")
		apply(cidrNAD("iso", "red", "10.60.0.0/24") + "---\n" + cidrNAD("iso", "blue", "10.60.0.0/24") + "---\n" + cidrNAD("iso", "green", "10.61.0.0/24"))
		apply(sleeper("iso", "red-1", "red", node1) + "---\n" + sleeper("iso", "red-2", "red", node2) + "---\n" +
			sleeper("iso", "blue-1", "blue", node1) + "---\n" + sleeper("iso", "blue-2", "blue", node2) + "---\n" +
			sleeper("iso", "blue-3", "blue", node1) + "---\n" + sleeper("iso", "green-1", "green", node2))
		ip := map[string]string{}
		mac := map[string]string{}
		for _, p := range []string{"red-1", "red-2", "blue-1", "blue-2", "blue-3", "green-1"} {
			network := "iso/" + strings.Split(p, "-")[0]
			for _, s := range networkStatus("iso", p) {
				if s.Name == network {
					ip[p], mac[p] = s.IPs[0], s.Mac
				}
			}
			Expect(ip[p]).NotTo(BeEmpty(), p)
		}

		By("each network's pods reach each other across nodes, resolving their own network's MAC")
		for _, pair := range [][2]string{{"red-1", "red-2"}, {"blue-1", "blue-2"}} {
			Eventually(func() bool { return pings("iso", pair[0], ip[pair[1]]) }, "20s").Should(BeTrue(), "%s -> %s", pair[0], pair[1])
			neigh := k("-n", "iso", "exec", pair[0], "--", "ip", "neigh", "show", ip[pair[1]], "dev", "eth1")
			Expect(neigh).To(ContainSubstring(mac[pair[1]]), "%s resolves %s on its own network", pair[0], pair[1])
		}

		By("an address of another network is not reached: blue's where red has none (blue has three pods, red two), green's")
		// kubemanager reconciles a network's pods in parallel, so which blue
		// pod gets the address red lacks is not known in advance.
		var blueOnly []string
		for _, other := range []string{"blue-1", "blue-2", "blue-3"} {
			if ip[other] != ip["red-1"] && ip[other] != ip["red-2"] {
				blueOnly = append(blueOnly, other)
			}
		}
		Expect(blueOnly).NotTo(BeEmpty(), "three blue addresses, two red ones: %v", ip)
		for _, p := range []string{"red-1", "red-2"} {
			for _, other := range blueOnly {
				Expect(pings("iso", p, ip[other])).To(BeFalse(), "%s must not reach %s (%s)", p, other, ip[other])
			}
			Expect(pings("iso", p, ip["green-1"])).To(BeFalse(), "%s must not reach green-1", p)
		}
		Expect(pings("iso", "green-1", ip["red-2"])).To(BeFalse(), "green-1 must not reach red-2")
	})
})
