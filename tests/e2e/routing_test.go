package e2e

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// routedNAD is a juniper.net/networks NAD with its own labels and route
// targets (JSON list, "" for none), as in the CN2 route-target walkthrough.
func routedNAD(namespace, name, cidr, labels, routeTargets string) string {
	rt := ""
	if routeTargets != "" {
		rt = fmt.Sprintf(`, "routeTargetList": %s`, routeTargets)
	}
	return fmt.Sprintf(`apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata:
  name: %s
  namespace: %s
  labels: {%s}
  annotations:
    juniper.net/networks: '{"ipamV4Subnet": "%s"%s}'
spec:
  config: '{"cniVersion": "0.3.1", "name": "%s", "type": "contrail-k8s-cni"}'
`, name, namespace, labels, cidr, rt, name)
}

// routingPod is a busybox pod on network that may add routes (the
// walkthrough's pods are privileged for that: NET_ADMIN is enough).
func routingPod(namespace, name, network, node string) string {
	return sleeper(namespace, name, network, node) + `    securityContext:
      capabilities:
        add: ["NET_ADMIN"]
`
}

// routeVia adds, in a pod, the route to another network's subnet through
// its own network's gateway, as the walkthrough's user does.
func routeVia(namespace, pod, subnet, gateway string) {
	GinkgoHelper()
	k("-n", namespace, "exec", pod, "--", "ip", "route", "add", subnet, "via", gateway)
}

// pingTTL pings once and returns ping's output ("" when nothing came back).
func pingTTL(namespace, pod, ip string) string {
	out, err := run("-n", namespace, "exec", pod, "--", "ping", "-c", "1", "-W", "2", ip)
	if err != nil {
		return ""
	}
	return out
}

// Routing between networks: a network's pods reach another network's when
// its routing instance imports that network's routes, through the gateway
// of their own network (one routed hop), on any node.
var _ = Describe("Routing between networks", Ordered, Label("routing"), func() {
	AfterAll(func() {
		k("-n", "routing", "delete", "pod", "--all", "--wait=true", "--timeout=2m")
		deleteNamespaces("routing")
	})

	BeforeAll(func() {
		k("create", "namespace", "routing")
	})

	It("a common route target (routeTargetList target:1234:567 on vn1 and vn2): vn1-pod and vn2-pod reach each other through their gateways, across nodes", func() {
		apply(routedNAD("routing", "vn1", "172.16.10.0/24", "", `["target:1234:567"]`) + "---\n" +
			routedNAD("routing", "vn2", "172.16.20.0/24", "", `["target:1234:567"]`))
		apply(routingPod("routing", "vn1-pod", "vn1", node1) + "---\n" + routingPod("routing", "vn2-pod", "vn2", node2))
		ip1 := ipOn(networkStatus("routing", "vn1-pod"), "routing/vn1")
		ip2 := ipOn(networkStatus("routing", "vn2-pod"), "routing/vn2")

		By("kubectl get ri: each has its default route target and the common one")
		for _, ri := range []string{"vn1", "vn2"} {
			Eventually(func() string {
				return k("-n", "routing", "get", "ri", ri, "-o", "jsonpath={.spec.routeTargetReferences[*].name}")
			}, "30s").Should(ContainSubstring("target-1234-567"))
		}

		By("kubectl exec vn1-pod -- ip route add 172.16.20.0/24 via 172.16.10.1, and back from vn2-pod")
		routeVia("routing", "vn1-pod", "172.16.20.0/24", "172.16.10.1")
		routeVia("routing", "vn2-pod", "172.16.10.0/24", "172.16.20.1")

		By("kubectl exec vn2-pod -- ping " + "vn1-pod's address: ttl=63, one routed hop")
		Eventually(func() string { return pingTTL("routing", "vn2-pod", ip1) }, "30s").Should(ContainSubstring("ttl=63"))
		Expect(pingTTL("routing", "vn1-pod", ip2)).To(ContainSubstring("ttl=63"))
	})

	It("a VirtualNetworkRouter of type mesh joins two networks; deleting it parts them again", func() {
		apply(routedNAD("routing", "mesh-a", "10.70.0.0/24", "vnr: web", "") + "---\n" +
			routedNAD("routing", "mesh-b", "10.71.0.0/24", "vnr: web", ""))
		apply(routingPod("routing", "mesh-a-pod", "mesh-a", node1) + "---\n" + routingPod("routing", "mesh-b-pod", "mesh-b", node2))
		ipA := ipOn(networkStatus("routing", "mesh-a-pod"), "routing/mesh-a")
		ipB := ipOn(networkStatus("routing", "mesh-b-pod"), "routing/mesh-b")
		routeVia("routing", "mesh-a-pod", "10.71.0.0/24", "10.70.0.1")
		routeVia("routing", "mesh-b-pod", "10.70.0.0/24", "10.71.0.1")

		By("no router yet: routes in the pods are not enough")
		Expect(pingTTL("routing", "mesh-a-pod", ipB)).To(BeEmpty())

		By("kubectl apply a VirtualNetworkRouter mesh selecting vnr=web: both networks' routing instances get its route target")
		apply(`apiVersion: core.contrail.juniper.net/v1alpha1
kind: VirtualNetworkRouter
metadata:
  name: web-mesh
  namespace: routing
spec:
  type: mesh
  virtualNetworkSelector:
    matchLabels:
      vnr: web
`)
		Expect(k("-n", "routing", "get", "vnr")).To(MatchRegexp(`(?m)^web-mesh\s+mesh\s`))
		for _, ri := range []string{"mesh-a", "mesh-b"} {
			Eventually(func() string {
				return k("-n", "routing", "get", "ri", ri, "-o", "jsonpath={.status.virtualNetworkRouterRouteTargetReferences}")
			}, "30s").Should(ContainSubstring("routing/web-mesh"))
		}
		Eventually(func() string { return pingTTL("routing", "mesh-a-pod", ipB) }, "30s").Should(ContainSubstring("ttl=63"))
		Expect(pingTTL("routing", "mesh-b-pod", ipA)).To(ContainSubstring("ttl=63"))

		By("kubectl delete vnr web-mesh: the networks are apart again")
		k("-n", "routing", "delete", "vnr", "web-mesh")
		Eventually(func() string { return pingTTL("routing", "mesh-a-pod", ipB) }, "30s").Should(BeEmpty())
		Expect(pingTTL("routing", "mesh-b-pod", ipA)).To(BeEmpty())
	})
})
