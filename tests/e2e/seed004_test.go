package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Seed 004: "CN2 - Enable Pods with Multiple Network Interfaces", step
// by step as its user typed it (testdata/seed004 holds the user's files
// verbatim). Each spec's name is the seed's command.
var _ = Describe("Seed 004: pods with multiple network interfaces", Ordered, Label("seed-004"), func() {
	var status []nadv1.NetworkStatus

	It("$ kubectl api-resources | grep cni", func() {
		var line string
		for _, l := range strings.Split(k("api-resources"), "\n") {
			if strings.Contains(l, "cni") {
				line = l
			}
		}
		Expect(strings.Fields(line)).To(Equal([]string{"network-attachment-definitions", "net-attach-def", "k8s.cni.cncf.io/v1", "true", "NetworkAttachmentDefinition"}))
	})

	It("$ kubectl explain net-attach-def", func() {
		out := k("explain", "net-attach-def")
		Expect(out).To(MatchRegexp(`KIND:\s+NetworkAttachmentDefinition`))
		for _, field := range []string{`apiVersion\s+<string>`, `kind\s+<string>`, `metadata\s+<(Object|ObjectMeta)>`, `spec\s+<Object>`} {
			Expect(out).To(MatchRegexp(field))
		}
	})

	It("$ kubectl get net-attach-def; kubectl get net-attach-def -A", func() {
		Expect(k("get", "net-attach-def")).To(Equal("No resources found in default namespace.\n"))
		Expect(k("get", "net-attach-def", "-A")).To(Equal("No resources found\n"))
	})

	It("$ kubectl apply -f nad-demo.yaml; kubectl get net-attach-def -A", func() {
		Expect(applyFile("seed004/nad-demo.yaml")).To(Equal("networkattachmentdefinition.k8s.cni.cncf.io/vn1 created\n"))
		rows := table(k("get", "net-attach-def", "-A"))
		Expect(rows).To(HaveLen(1))
		Expect(rows[0]).To(HaveKeyWithValue("NAMESPACE", "default"))
		Expect(rows[0]).To(HaveKeyWithValue("NAME", "vn1"))
	})

	It("$ kubectl describe net-attach-def -A: juniper.net/networks-status and the kubemanager's finalizer", func() {
		Eventually(func() string { return k("describe", "net-attach-def", "-A") }).Should(
			ContainSubstring("juniper.net/networks-status: success creating VirtualNetwork vn1 v4Subnet: 172.16.10.0/24"))
		Expect(k("get", "net-attach-def", "vn1", "-o", "jsonpath={.metadata.finalizers}")).To(
			Equal(`["virtual-network.finalizers.kube-manager.juniper.net"]`))
	})

	It("$ kubectl get vn: VNI assigned, IP FAMILIES v4, STATE Success", func() {
		Eventually(func() []Row { return table(k("get", "vn")) }).Should(ConsistOf(
			And(HaveKeyWithValue("NAME", "vn1"), HaveKeyWithValue("VNI", MatchRegexp(`^[1-9]\d*$`)),
				HaveKeyWithValue("IP FAMILIES", "v4"), HaveKeyWithValue("STATE", "Success"))))
	})

	It("$ kubectl apply -f vn-pod.yaml; kubectl get pods -o wide", func() {
		Expect(applyFile("seed004/vn-pod.yaml")).To(Equal("pod/vn1-pod created\n"))
		k("wait", "--for=condition=Ready", "pod/vn1-pod", "--timeout=2m")
		rows := rowsWhere(table(k("get", "pods", "-o", "wide")), "NAME", "vn1-pod")
		Expect(rows).To(HaveLen(1))
		Expect(rows[0]).To(HaveKeyWithValue("READY", "1/1"))
		Expect(rows[0]).To(HaveKeyWithValue("STATUS", "Running"))
		Expect(rows[0]).To(HaveKeyWithValue("IP", MatchRegexp(`^10\.244\.\d+\.\d+$`)))
	})

	It("$ kubectl describe pods vn1-pod: the network-status annotation", func() {
		Expect(k("describe", "pods", "vn1-pod")).To(ContainSubstring("k8s.v1.cni.cncf.io/network-status"))
		out := k("get", "pod", "vn1-pod", "-o", `jsonpath={.metadata.annotations.k8s\.v1\.cni\.cncf\.io/network-status}`)
		Expect(json.Unmarshal([]byte(out), &status)).To(Succeed())
		Expect(status).To(HaveLen(2))
		Expect(status[0].Name).To(Equal("contrail-k8s-kubemanager-mk-contrail/default-podnetwork"))
		Expect(status[0].Interface).To(Equal("eth0"))
		Expect(status[0].Default).To(BeTrue())
		Expect(status[1].Name).To(Equal("default/vn1"))
		Expect(status[1].Interface).To(Equal("eth1"))
		Expect(status[1].IPs).To(Equal([]string{"172.16.10.2"}))
	})

	It("$ kubectl get subnet: USAGE 1.56% after one pod", func() {
		Eventually(func() []Row { return table(k("get", "subnet")) }).Should(ConsistOf(
			And(HaveKeyWithValue("NAME", "vn1-v4"), HaveKeyWithValue("CIDR", "172.16.10.0/24"),
				HaveKeyWithValue("USAGE", "1.56%"), HaveKeyWithValue("STATE", "Success"))))
	})

	It("$ kubectl exec -it vn1-pod -- bash; ip a: eth0 and eth1 with the addresses and MACs of the network-status", func() {
		out, err := run("exec", "vn1-pod", "--", "bash", "-c", "ip a")
		Expect(err).NotTo(HaveOccurred(), out)
		for _, s := range status {
			block := regexp.MustCompile(fmt.Sprintf(`(?m)^\d+: %s@\S+: <[^>]*UP[^>]*> .*\n\s+link/ether %s .*\n\s+inet %s/(\d+) `,
				s.Interface, regexp.QuoteMeta(s.Mac), regexp.QuoteMeta(s.IPs[0])))
			Expect(block.FindStringSubmatch(out)).NotTo(BeNil(), "%s in:\n%s", s.Interface, out)
		}
		Expect(out).To(MatchRegexp(`inet 10\.244\.\d+\.\d+/16 `))
		Expect(out).To(ContainSubstring("inet 172.16.10.2/24 "))
	})

	It("$ kubectl get ri; kubectl describe ri vn1: the system route target and the user's", func() {
		rows := table(k("get", "ri"))
		Expect(rows).To(ConsistOf(And(HaveKeyWithValue("NAME", "vn1"),
			HaveKeyWithValue("ROUTETARGET", MatchRegexp(`^64512:80000\d\d$`)), HaveKeyWithValue("STATE", "Success"))))
		out := k("describe", "ri", "vn1")
		Expect(out).To(MatchRegexp(`Import Export:\s+export\s+Fq Name:\s+target-10\.1\.1\.1-561`))
		Expect(out).To(MatchRegexp(`Import Export:\s+import\s+Fq Name:\s+target-10\.2\.2\.2-561`))
		Expect(out).To(MatchRegexp(`Name:\s+target-23-4561`))
		Expect(out).To(MatchRegexp(`Default Route Target Reference:(\s+\S.*\n)*?\s+Name:\s+target-` + strings.ReplaceAll(rows[0]["ROUTETARGET"], ":", "-")))
	})

	It("$ kubectl get vm: the pod's VirtualMachine, TYPE container, its WORKLOAD", func() {
		Expect(rowsWhere(table(k("get", "vm")), "WORKLOAD", "/default/vn1-pod")).To(ConsistOf(
			And(HaveKeyWithValue("NAME", HavePrefix("contrail-k8s-kubemanager-mk-vn1-pod-")), HaveKeyWithValue("TYPE", "container"),
				HaveKeyWithValue("STATE", "Success"))))
	})

	It("$ kubectl get vmi: eth0 on default-podnetwork, eth1 on vn1", func() {
		rows := rowsWhere(table(k("get", "vmi")), "PODNAME", "vn1-pod")
		Expect(rows).To(ConsistOf(
			And(HaveKeyWithValue("CLUSTERNAME", "contrail-k8s-kubemanager-mk"), HaveKeyWithValue("NETWORK", "default-podnetwork"),
				HaveKeyWithValue("IFCNAME", "eth0"), HaveKeyWithValue("STATE", "Success"), HaveKeyWithValue("NAME", HavePrefix("vn1-pod-"))),
			And(HaveKeyWithValue("CLUSTERNAME", "contrail-k8s-kubemanager-mk"), HaveKeyWithValue("NETWORK", "vn1"),
				HaveKeyWithValue("IFCNAME", "eth1"), HaveKeyWithValue("STATE", "Success"), HaveKeyWithValue("NAME", HavePrefix("vn1-pod-")))))
	})

	It("$ kubectl get iip: the pod's addresses on both networks", func() {
		var rows []Row
		for _, r := range table(k("get", "iip")) {
			if strings.HasPrefix(r["NAME"], "contrail-k8s-kubemanager-mk-vn1-pod-") {
				rows = append(rows, r)
			}
		}
		Expect(rows).To(ConsistOf(
			And(HaveKeyWithValue("IPADDRESS", "172.16.10.2"), HaveKeyWithValue("NETWORK", "default/vn1"), HaveKeyWithValue("STATE", "Success")),
			And(HaveKeyWithValue("IPADDRESS", status[0].IPs[0]), HaveKeyWithValue("NETWORK", "contrail-k8s-kubemanager-mk-contrail/default-podnetwork"),
				HaveKeyWithValue("STATE", "Success"))))
	})

	It("$ kubectl get rt: the user's route targets and the system one", func() {
		rows := table(k("get", "rt"))
		ri := table(k("get", "ri", "vn1"))[0]["ROUTETARGET"]
		for _, name := range []string{"target-10.1.1.1-561", "target-10.2.2.2-561", "target-23-4561", "target-" + strings.ReplaceAll(ri, ":", "-")} {
			Expect(rowsWhere(rows, "NAME", name)).To(ConsistOf(HaveKeyWithValue("STATE", "Success")), name)
		}
	})

	It("$ kubectl get vr -A: a VirtualRouter per node, with its IP", func() {
		// STATE is the last programming's outcome (every change and 30 s).
		Eventually(func() []Row { return table(k("get", "vr", "-A")) }).Should(ConsistOf(
			And(HaveKeyWithValue("NAME", theLab.NodeName(1)), HaveKeyWithValue("IP", theLab.NodeIP(1)), HaveKeyWithValue("STATE", "Success")),
			And(HaveKeyWithValue("NAME", theLab.NodeName(2)), HaveKeyWithValue("IP", theLab.NodeIP(2)), HaveKeyWithValue("STATE", "Success"))))
	})

	It("$ kubectl describe pod contrail-k8s-kubemanager-... -n contrail: KUBEMANAGER_ENABLE_NAD true", func() {
		out := k("-n", "contrail", "describe", "pod", "-l", "app=contrail-k8s-kubemanager")
		Expect(out).To(MatchRegexp(`KUBEMANAGER_CLUSTER_NAME:\s+contrail-k8s-kubemanager-mk`))
		Expect(out).To(MatchRegexp(`KUBEMANAGER_ENABLE_NAD:\s+true`))
	})

	It("$ kubectl delete vn vn1; kubectl get vn: it is back", func() {
		uid := k("get", "vn", "vn1", "-o", "jsonpath={.metadata.uid}")
		// kubectl 1.37 adds " from default namespace" to the seed's line.
		Expect(k("delete", "vn", "vn1")).To(HavePrefix(`virtualnetwork.core.contrail.juniper.net "vn1" deleted`))
		Eventually(func() string { return k("get", "vn", "vn1", "-o", "jsonpath={.metadata.uid}/{.status.state}") }).Should(
			And(Not(HavePrefix(uid)), HaveSuffix("/Success")))
	})

	It("$ kubectl delete net-attach-def vn1 (after the pod); kubectl get net-attach-def,vn,subnet: all gone", func() {
		k("delete", "pod", "vn1-pod", "--wait=true")
		Expect(k("delete", "net-attach-def", "vn1")).To(HavePrefix(`networkattachmentdefinition.k8s.cni.cncf.io "vn1" deleted`))
		Eventually(func() string { return k("get", "net-attach-def,vn,subnet") }).Should(Equal("No resources found in default namespace.\n"))
		By("nothing of the pod is left: no VirtualMachine, VMI or InstanceIP")
		Eventually(func() string { return k("get", "vm,vmi,iip", "-A") }).ShouldNot(ContainSubstring("vn1-pod"))
	})
})
