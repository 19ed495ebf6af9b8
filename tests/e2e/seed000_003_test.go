package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/kontrail/kontrail/tests/internal/lab"
)

// cidrNAD is a NAD as seeds 000 and 003 write them: opencontrail.org/cidr.
func cidrNAD(namespace, name, cidr string) string { return lab.CIDRNAD(namespace, name, cidr) }

// sleeper is a busybox pod on networks (the annotation's value), on node
// when it is not empty.
func sleeper(namespace, name, networks, node string) string {
	nodeName := ""
	if node != "" {
		nodeName = "\n  nodeName: " + node
	}
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: %s
  annotations:
    k8s.v1.cni.cncf.io/networks: '%s'
spec:%s
  terminationGracePeriodSeconds: 1
  containers:
  - name: busybox
    image: busybox
    command: ["sleep", "3600"]
`, name, namespace, networks, nodeName)
}

// networkStatus is a pod's network-status, once it is Ready.
func networkStatus(namespace, pod string) []nadv1.NetworkStatus {
	GinkgoHelper()
	k("-n", namespace, "wait", "--for=condition=Ready", "pod/"+pod, "--timeout=2m")
	out := k("-n", namespace, "get", "pod", pod, "-o", `jsonpath={.metadata.annotations.k8s\.v1\.cni\.cncf\.io/network-status}`)
	var status []nadv1.NetworkStatus
	Expect(json.Unmarshal([]byte(out), &status)).To(Succeed(), out)
	return status
}

// expectInterfaces checks the pod's interfaces: eth0 on the default pod
// network, then one per network in order, each UP in the pod with the MAC
// and address its network-status gives.
func expectInterfaces(namespace, pod string, networks ...string) []nadv1.NetworkStatus {
	GinkgoHelper()
	status := networkStatus(namespace, pod)
	Expect(status).To(HaveLen(len(networks) + 1))
	Expect(status[0].Interface).To(Equal("eth0"))
	Expect(status[0].Default).To(BeTrue())
	Expect(status[0].Name).To(Equal("contrail-k8s-kubemanager-mk-contrail/default-podnetwork"))
	for i, n := range networks {
		Expect(status[i+1].Name).To(Equal(n))
		Expect(status[i+1].Interface).To(Equal(fmt.Sprintf("eth%d", i+1)))
	}
	out, err := run("-n", namespace, "exec", pod, "--", "ip", "a")
	Expect(err).NotTo(HaveOccurred(), out)
	for _, s := range status {
		Expect(s.IPs).To(HaveLen(1))
		block := regexp.MustCompile(fmt.Sprintf(`(?m)^\d+: %s@\S+: <[^>]*UP[^>]*> .*\n\s+link/ether %s .*\n\s+inet %s/`,
			s.Interface, regexp.QuoteMeta(s.Mac), regexp.QuoteMeta(s.IPs[0])))
		Expect(block.MatchString(out)).To(BeTrue(), "%s %s %s in:\n%s", s.Interface, s.Mac, s.IPs[0], out)
	}
	return status
}

// ipOn is a pod's address on a network (namespace/name) of its status.
func ipOn(status []nadv1.NetworkStatus, network string) string {
	for _, s := range status {
		if s.Name == network && len(s.IPs) > 0 {
			return s.IPs[0]
		}
	}
	return ""
}

// pings says whether a pod reaches an address.
func pings(namespace, pod, ip string) bool {
	out, err := run("-n", namespace, "exec", pod, "--", "ping", "-c", "1", "-W", "2", ip)
	return err == nil && strings.Contains(out, "1 packets received")
}

var _ = Describe("Seeds 000 and 003: Contrail multiple-interface pods", Ordered, Label("seed-000", "seed-003"), func() {
	AfterAll(func() {
		// Pods first: a network stays while a pod (of any namespace, like
		// ubuntu-pod-3 on extns/data-network) holds an address in it.
		for _, ns := range []string{"default", "seed000", "extns", "k8s-extns"} {
			k("-n", ns, "delete", "pod", "--all", "--wait=true", "--timeout=2m")
		}
		k("-n", "default", "delete", "net-attach-def", "--all", "--wait=true", "--timeout=2m")
		deleteNamespaces("seed000", "extns", "k8s-extns")
	})

	It("000: kubectl apply vn-left-1 and vn-right-1 (opencontrail.org/cidr); kubectl get net-attach-def", func() {
		k("create", "namespace", "seed000")
		apply(cidrNAD("seed000", "vn-left-1", "10.10.10.0/24") + "---\n" + cidrNAD("seed000", "vn-right-1", "10.20.20.0/24"))
		Expect(table(k("-n", "seed000", "get", "net-attach-def"))).To(ConsistOf(HaveKeyWithValue("NAME", "vn-left-1"), HaveKeyWithValue("NAME", "vn-right-1")))
		for _, n := range []string{"vn-left-1", "vn-right-1"} {
			Eventually(func() string {
				return k("-n", "seed000", "get", "vn", n, "--ignore-not-found", "-o", "jsonpath={.status.state}")
			}).Should(Equal("Success"), n)
		}
	})

	It("000: a pod on both gets three interfaces, the default pod network first, with the MACs and addresses of its network-status", func() {
		apply(sleeper("seed000", "vn-left-right-pod", "vn-left-1,vn-right-1", node1))
		status := expectInterfaces("seed000", "vn-left-right-pod", "seed000/vn-left-1", "seed000/vn-right-1")
		Expect(ipOn(status, "seed000/vn-left-1")).To(HavePrefix("10.10.10."))
		Expect(ipOn(status, "seed000/vn-right-1")).To(HavePrefix("10.20.20."))
	})

	It("000: pods sharing a network reach each other, on one node and across nodes", func() {
		apply(sleeper("seed000", "left-same-node", "vn-left-1", node1) + "---\n" + sleeper("seed000", "left-other-node", "vn-left-1", node2))
		for _, p := range []string{"left-same-node", "left-other-node"} {
			ip := ipOn(networkStatus("seed000", p), "seed000/vn-left-1")
			Expect(ip).To(HavePrefix("10.10.10."))
			Eventually(func() bool { return pings("seed000", "vn-left-right-pod", ip) }, "20s").Should(BeTrue(), p)
		}
	})

	It(`003: the JSON-list form ([{ "name": "network-a" }, { "name": "network-b" }])`, func() {
		apply(cidrNAD("default", "network-a", "10.31.0.0/24") + "---\n" + cidrNAD("default", "network-b", "10.32.0.0/24"))
		// The seed's pod, but for its name: multiNetworkPod is not a valid
		// object name (upper case), which kubectl rejects before Kontrail sees it.
		apply(`apiVersion: v1
kind: Pod
metadata:
  name: multinetworkpod
  annotations:
    k8s.v1.cni.cncf.io/networks: '[
      { "name": "network-a" },
      { "name": "network-b" }
    ]'
spec:
  containers:
  - image: busybox
    command:
      - sleep
      - "3600"
    imagePullPolicy: IfNotPresent
    name: busybox
    stdin: true
    tty: true
  restartPolicy: Always
`)
		expectInterfaces("default", "multinetworkpod", "default/network-a", "default/network-b")
	})

	It("003: the comma-list form with a cross-namespace entry (left-network,blue-network,right-network,extns/data-network)", func() {
		k("create", "namespace", "extns")
		apply(cidrNAD("default", "left-network", "10.41.0.0/24") + "---\n" + cidrNAD("default", "blue-network", "10.42.0.0/24") + "---\n" +
			cidrNAD("default", "right-network", "10.43.0.0/24") + "---\n" + cidrNAD("extns", "data-network", "10.44.0.0/24"))
		Expect(applyFile("seed003/ubuntu-pod-3.yaml")).To(Equal("pod/ubuntu-pod-3 created\n"))
		status := expectInterfaces("default", "ubuntu-pod-3", "default/left-network", "default/blue-network", "default/right-network", "extns/data-network")
		Expect(ipOn(status, "extns/data-network")).To(HavePrefix("10.44.0."))
	})

	It("003: a NAD mapped to an existing network with opencontrail.org/network", func() {
		k("create", "namespace", "k8s-extns")
		apply(cidrNAD("k8s-extns", "k8s-extns-pod-network", "10.50.0.0/24"))
		Expect(applyFile("seed003/extns-network.yaml")).To(Equal("networkattachmentdefinition.k8s.cni.cncf.io/extns-network created\n"))
		Eventually(func() string {
			return k("get", "net-attach-def", "extns-network", "-o", `jsonpath={.metadata.annotations.juniper\.net/networks-status}`)
		}).Should(Equal("success mapping to VirtualNetwork k8s-extns/k8s-extns-pod-network"))
		apply(sleeper("default", "extns-pod", "extns-network", node2))
		status := expectInterfaces("default", "extns-pod", "default/extns-network")
		Expect(ipOn(status, "default/extns-network")).To(HavePrefix("10.50.0."))
		By("it shares the network with a pod of the network's own NAD, across nodes")
		apply(sleeper("k8s-extns", "native-pod", "k8s-extns-pod-network", node1))
		native := ipOn(networkStatus("k8s-extns", "native-pod"), "k8s-extns/k8s-extns-pod-network")
		Expect(native).To(HavePrefix("10.50.0."))
		Eventually(func() bool { return pings("default", "extns-pod", native) }, "20s").Should(BeTrue())
	})
})
