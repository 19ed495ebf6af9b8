package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// web is a pod serving "hello from <name>" over HTTP on 8080 (busybox's
// httpd), labelled app=<app>.
func web(namespace, name, app, node string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: %s
  labels: {app: %s}
spec:
  nodeName: %s
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && echo hello from %s > /www/index.html && exec httpd -f -p 8080 -h /www"]
    readinessProbe:
      tcpSocket: {port: 8080}
      periodSeconds: 1
`, name, namespace, app, node, name)
}

// httpGet is the request busybox's nc sends: nc, not wget, because the
// static busybox's wget cannot resolve even an address without NSS. nc's
// -w bounds the connect only: timeout bounds an answer that never comes.
func httpGet(host string, port int) string {
	return fmt.Sprintf(`printf 'GET / HTTP/1.0\r\n\r\n' | timeout 5 nc -w 3 %s %d | tail -n 1`, host, port)
}

// fromPod is what a pod's GET of host:port answered (empty if nothing).
func fromPod(namespace, pod, host string, port int) string {
	out, _ := run("-n", namespace, "exec", pod, "--", "sh", "-c", httpGet(host, port))
	return strings.TrimSpace(out)
}

// fromNode is what a GET of host:port from a node's host network answered.
func fromNode(i int, host string, port int) string {
	out, _ := exec.Command("ip", "netns", "exec", theLab.NodeNetns(i), "busybox", "sh", "-c", httpGet(host, port)).CombinedOutput()
	return strings.TrimSpace(string(out))
}

// Services on the pod network: kube-proxy (the lab runs it as kubeadm
// does, nftables mode) translates, Kontrail's pod network carries: a
// Service answers pods on its backend's node and on the other, its own
// backend (hairpin), and the nodes' host network; a NodePort answers on
// every node's address. The attack: the backend is deleted under its
// clients and a new one comes up on the other node.
var _ = Describe("Services on the pod network", Ordered, Label("services"), func() {
	const ns = "svc"
	var clusterIP string
	var nodePort int

	BeforeAll(func() {
		k("create", "namespace", ns)
		apply(web(ns, "web-1", "web", node1) + "---\n" + sleeper(ns, "client-1", "", node1) + "---\n" + sleeper(ns, "client-2", "", node2) +
			"---\n" + fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: web, namespace: %s}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`, ns))
		k("-n", ns, "wait", "--for=condition=Ready", "pod/web-1", "pod/client-1", "pod/client-2", "--timeout=2m")
		clusterIP = strings.TrimSpace(k("-n", ns, "get", "service", "web", "-o", "jsonpath={.spec.clusterIP}"))
		_, err := fmt.Sscan(k("-n", ns, "get", "service", "web", "-o", "jsonpath={.spec.ports[0].nodePort}"), &nodePort)
		Expect(err).NotTo(HaveOccurred())
	})
	AfterAll(func() {
		k("-n", ns, "delete", "pod", "--all", "--wait=true", "--timeout=2m")
		deleteNamespaces(ns)
	})

	It("a ClusterIP answers pods on its backend's node and on the other, its own backend, and both nodes", func() {
		want := "hello from web-1"
		Eventually(func() string { return fromPod(ns, "client-1", clusterIP, 80) }, "30s", "1s").Should(Equal(want), "client-1 (node 1) -> %s", clusterIP)
		Expect(fromPod(ns, "client-2", clusterIP, 80)).To(Equal(want), "client-2 (node 2) -> %s", clusterIP)
		Expect(fromPod(ns, "web-1", clusterIP, 80)).To(Equal(want), "web-1 -> its own Service (hairpin)")
		Expect(fromNode(1, clusterIP, 80)).To(Equal(want), "node 1's host network -> %s", clusterIP)
		Expect(fromNode(2, clusterIP, 80)).To(Equal(want), "node 2's host network -> %s (backend on node 1)", clusterIP)
	})

	It("a NodePort answers on every node's address, from pods and from outside the nodes", func() {
		want := "hello from web-1"
		for _, i := range []int{1, 2} {
			addr := theLab.NodeIP(i)
			Eventually(func() string { return fromNode(3-i, addr, nodePort) }, "30s", "1s").Should(Equal(want), "node %d -> %s:%d", 3-i, addr, nodePort)
			Expect(fromPod(ns, "client-2", addr, nodePort)).To(Equal(want), "client-2 -> %s:%d", addr, nodePort)
		}
	})

	It("the cluster DNS (CoreDNS at the kube-dns Service) resolves a Service's name from pods on both nodes", func() {
		for _, client := range []string{"client-1", "client-2"} {
			Eventually(func() string {
				out, _ := run("-n", ns, "exec", client, "--", "nslookup", "web."+ns+".svc.cluster.local")
				return out
			}, "30s", "1s").Should(ContainSubstring("Address: "+clusterIP), "%s resolves web", client)
			// A pod's resolv.conf searches its namespace (kubelet's clusterDNS and clusterDomain).
			Expect(k("-n", ns, "exec", client, "--", "cat", "/etc/resolv.conf")).To(ContainSubstring("search " + ns + ".svc.cluster.local"))
		}
		Expect(fromPod(ns, "client-2", "web", 80)).To(Equal("hello from web-1"), "client-2 -> web by its short name")
	})

	It("pods leave the cluster through their node's fabric SNAT: the external host sees the node's address", func() {
		// The lab's external host (a network namespace on the fabric, no
		// node) answers with the address a request came from. Nothing
		// routes the pod network to it: only SNAT brings an answer back.
		for i, client := range []string{"client-1", "client-2"} {
			Eventually(func() string { return fromPod(ns, client, theLab.ExternalIP(), 80) }, "30s", "1s").
				Should(Equal(theLab.NodeIP(i+1)), "%s (node %d) -> the external host %s", client, i+1, theLab.ExternalIP())
		}
		// The attack: the SNAT table removed by hand under a running agent
		// (the node's network restarted, a firewall reloaded): egress
		// stops, and the agent puts it back at its next resync.
		nft := func(args ...string) (string, error) {
			out, err := exec.Command("ip", append([]string{"netns", "exec", theLab.NodeNetns(2), "nft"}, args...)...).CombinedOutput()
			return string(out), err
		}
		out, err := nft("delete", "table", "ip", "kontrail-snat")
		Expect(err).NotTo(HaveOccurred(), out)
		// No answer (nc times out), or the agent's resync came first: then
		// only with the table back.
		if answer := fromPod(ns, "client-2", theLab.ExternalIP(), 80); answer == theLab.NodeIP(2) {
			out, err := nft("list", "table", "ip", "kontrail-snat")
			Expect(err).NotTo(HaveOccurred(), "an answer (%s) without the SNAT table: %s", answer, out)
		} else {
			Expect(answer).NotTo(MatchRegexp(`^[0-9.]+$`), "without SNAT, the external host answered with another address")
		}
		Eventually(func() string { return fromPod(ns, "client-2", theLab.ExternalIP(), 80) }, "90s", "2s").
			Should(Equal(theLab.NodeIP(2)), "the agent restores the SNAT table")
		// No request ever reached the external host from a pod's own address.
		log := theLab.LogTail("external-http", 1000)
		Expect(log).To(ContainSubstring("from " + theLab.NodeIP(1)))
		Expect(log).NotTo(ContainSubstring("from 10.244."), "a pod's address reached the external host")
	})

	It("the backend deleted under its clients: the Service refuses, then a new backend on the other node answers them", func() {
		k("-n", ns, "delete", "pod", "web-1", "--wait=true", "--timeout=1m")
		// kube-proxy rejects a connection to a Service without endpoints.
		Eventually(func() string { return fromPod(ns, "client-2", clusterIP, 80) }, "30s", "1s").Should(ContainSubstring("Connection refused"),
			"no backend: the Service refuses")
		apply(web(ns, "web-2", "web", node2))
		k("-n", ns, "wait", "--for=condition=Ready", "pod/web-2", "--timeout=2m")
		want := "hello from web-2"
		deadline := time.Now().Add(30 * time.Second)
		for _, client := range []string{"client-1", "client-2", "web-2"} {
			Eventually(func() string { return fromPod(ns, client, clusterIP, 80) }, time.Until(deadline), "1s").Should(Equal(want), "%s -> %s", client, clusterIP)
		}
		Expect(fromNode(1, clusterIP, 80)).To(Equal(want))
	})
})
