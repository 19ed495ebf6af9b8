package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Bad input as a user meets it: typed through kubectl, answered where the
// user looks (kubectl's rejection, the status annotation, the object's
// state, a Warning event), while the namespace's good pods keep working.
var _ = Describe("Bad input, as a user meets it", Ordered, Label("bad-input"), func() {
	const ns = "bad"
	var goodIP, goodMAC string

	BeforeAll(func() {
		k("create", "namespace", ns)
		apply(cidrNAD(ns, "good", "10.90.0.0/24"))
		apply(sleeper(ns, "good-1", "good", node1) + "---\n" + sleeper(ns, "good-2", "good", node2))
		for _, st := range networkStatus(ns, "good-2") {
			if st.Name == ns+"/good" {
				goodIP, goodMAC = st.IPs[0], st.Mac
			}
		}
		Eventually(func() bool { return pings(ns, "good-1", goodIP) }, "20s").Should(BeTrue())
	})

	AfterAll(func() {
		k("-n", ns, "delete", "pod", "--all", "--wait=true", "--timeout=2m")
		deleteNamespaces(ns)
	})

	// rejected: kubectl apply fails, naming the field and the problem.
	DescribeTable("rejected by kubectl apply, naming the field",
		func(yaml string, want ...string) {
			out, err := kIn(yaml, "apply", "-f", "-")
			Expect(err).To(HaveOccurred(), out)
			for _, w := range want {
				Expect(out).To(ContainSubstring(w))
			}
		},
		Entry("Subnet: malformed CIDR", subnet("s1", "cidr: 10.9.0.0/33"), "spec.cidr"),
		Entry("Subnet: a /31 with a gateway", subnet("s2", "cidr: 10.9.0.0/31\n  defaultGateway: 10.9.0.1"), "/30 or shorter"),
		Entry("Subnet: gateway outside the CIDR", subnet("s3", "cidr: 10.9.0.0/24\n  defaultGateway: 10.8.0.1"), "defaultGateway must be inside cidr"),
		Entry("Subnet: overlapping another Subnet of the same network", `apiVersion: core.contrail.juniper.net/v1alpha1
kind: Subnet
metadata:
  name: good-extra
  namespace: bad
  labels: {core.juniper.net/parent-virtualnetwork: good}
spec: {cidr: 10.90.0.128/25}
`, "spec.cidr", "overlaps Subnet good-v4 (10.90.0.0/24)"),
		Entry("VirtualNetwork: malformed route target", `apiVersion: core.contrail.juniper.net/v1alpha1
kind: VirtualNetwork
metadata: {name: v1, namespace: bad}
spec:
  routeTargetList: ["target:abc"]
`, "spec.routeTargetList[0]"),
		Entry("VirtualNetwork: importing a route target of the controller's (another network's routes)", `apiVersion: core.contrail.juniper.net/v1alpha1
kind: VirtualNetwork
metadata: {name: v2, namespace: bad}
spec:
  importRouteTargetList: ["target:64512:8000001"]
`, "spec.importRouteTargetList[0]", "target:<AS>:8000000 and above are the controller's"),
		Entry("VirtualNetworkRouter: unknown type", `apiVersion: core.contrail.juniper.net/v1alpha1
kind: VirtualNetworkRouter
metadata: {name: r1, namespace: bad}
spec: {type: star}
`, "spec.type", `"star"`),
		Entry("Kubemanager: invalid pod CIDR", `apiVersion: configplane.juniper.net/v1alpha1
kind: Kubemanager
metadata: {name: contrail-k8s-kubemanager, namespace: contrail}
spec: {clusterName: contrail-k8s-kubemanager-mk, podV4Subnet: 10.244.0.0/99}
`, "spec.podV4Subnet"),
		Entry("Controller: negative replicas", `apiVersion: configplane.juniper.net/v1alpha1
kind: Controller
metadata: {name: contrail-k8s-controller, namespace: contrail-system}
spec: {common: {replicas: -1}}
`, "spec.common.replicas"),
		Entry("Vrouter: unknown CNI version", `apiVersion: dataplane.juniper.net/v1alpha1
kind: Vrouter
metadata: {name: contrail-vrouter-nodes, namespace: contrail}
spec: {cni: {cniVersion: "0.4.0"}}
`, "spec.cni.cniVersion", `"0.4.0"`),
	)

	It("a Subnet's CIDR cannot change (kubectl apply of an edited one)", func() {
		apply(subnet("fixed", "cidr: 10.91.0.0/24"))
		out, err := kIn(subnet("fixed", "cidr: 10.92.0.0/24"), "apply", "-f", "-")
		Expect(err).To(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("spec.cidr"))
		Expect(out).To(ContainSubstring("immutable"))
		k("-n", ns, "delete", "subnet", "fixed")
	})

	It("a VirtualNetwork referencing a missing Subnet: STATE Failure, an observation and an event that say why", func() {
		apply(`apiVersion: core.contrail.juniper.net/v1alpha1
kind: VirtualNetwork
metadata: {name: orphan, namespace: bad}
spec:
  v4SubnetReference: {name: no-such-subnet}
`)
		Eventually(func() string { return k("-n", ns, "get", "vn", "orphan", "-o", "jsonpath={.status.state}") }, "30s").Should(Equal("Failure"))
		Expect(k("-n", ns, "get", "vn", "orphan", "-o", "jsonpath={.status.observation}")).To(ContainSubstring("no-such-subnet"))
		Eventually(func() string { return warnings("VirtualNetwork", "orphan") }, "30s").Should(ContainSubstring("no-such-subnet"))
		k("-n", ns, "delete", "vn", "orphan")
	})

	// nadFails: the NAD's juniper.net/networks-status says failure and why,
	// a Warning event too, and no VirtualNetwork is made.
	DescribeTable("a NAD kubemanager cannot use: its networks-status and a Warning event say why",
		func(name, annotations, want string) {
			apply(fmt.Sprintf(`apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata:
  name: %s
  namespace: bad
  annotations:
%s
spec:
  config: '{"cniVersion": "0.3.1", "name": "%s", "type": "contrail-k8s-cni"}'
`, name, annotations, name))
			status := func() string {
				return k("-n", ns, "get", "net-attach-def", name, "-o", `jsonpath={.metadata.annotations.juniper\.net/networks-status}`)
			}
			Eventually(status, "30s").Should(HavePrefix("failure: "))
			Expect(status()).To(ContainSubstring(want))
			Eventually(func() string { return warnings("NetworkAttachmentDefinition", name) }, "30s").Should(ContainSubstring(want))
			Expect(k("-n", ns, "get", "vn", name, "--ignore-not-found", "-o", "name")).To(BeEmpty())
			k("-n", ns, "delete", "net-attach-def", name, "--wait=true")
		},
		Entry("malformed JSON in juniper.net/networks", "bad-json", `    juniper.net/networks: '{"ipamV4Subnet": "10.93.0.0/24"'`, "juniper.net/networks"),
		Entry("an invalid CIDR in juniper.net/networks", "bad-cidr", `    juniper.net/networks: '{"ipamV4Subnet": "10.93.0.300/24"}'`, "10.93.0.300/24"),
		Entry("an invalid CIDR in opencontrail.org/cidr", "bad-oc-cidr", `    opencontrail.org/cidr: "10.93.0/24"`, "10.93.0/24"),
		Entry("opencontrail.org/network naming a missing network", "bad-map", `    opencontrail.org/network: '{"domain": "default-domain", "project": "bad", "name": "nowhere"}'`, "nowhere"),
	)

	// podFails: the pod's juniper.net/networks-status and a Warning event
	// say why; its sandbox is refused by the CNI with the same reason; it
	// holds no interface or address.
	DescribeTable("a pod whose networks cannot be plugged: its status annotation and events say why, and it holds nothing",
		func(name, networks, want string) {
			good := strings.NewReplacer("GOOD-IP", goodIP, "GOOD-MAC", goodMAC)
			networks, want = good.Replace(networks), good.Replace(want)
			apply(sleeper(ns, name, networks, node1))
			status := func() string {
				return k("-n", ns, "get", "pod", name, "-o", `jsonpath={.metadata.annotations.juniper\.net/networks-status}`)
			}
			Eventually(status, "30s").Should(HavePrefix("failure: "))
			Expect(status()).To(ContainSubstring(want))
			Eventually(func() string { return warnings("Pod", name) }, "30s").Should(ContainSubstring(want))
			By("the CNI refuses the sandbox with kubemanager's reason (kubelet's FailedCreatePodSandBox)")
			Eventually(func() string { return warnings("Pod", name) }, "60s").Should(
				And(ContainSubstring("FailedCreatePodSandBox"), ContainSubstring(want)))
			Expect(k("-n", ns, "get", "pod", name, "-o", "jsonpath={.status.phase}")).To(Equal("Pending"))
			uid := k("-n", ns, "get", "pod", name, "-o", "jsonpath={.metadata.uid}")
			Eventually(func() string {
				return k("get", "vm,vmi,iip", "-A", "-l", "kube-manager.juniper.net/pod-uid="+uid, "-o", "name")
			}, "30s").Should(BeEmpty(), "the pod holds no VirtualMachine, interface or address, its default network's included")
			k("-n", ns, "delete", "pod", name, "--wait=true")
		},
		Entry("an unknown NAD", "unknown-nad", "no-such-nad", "no-such-nad"),
		Entry("a NAD in a namespace that does not exist", "missing-ns", "nowhere/good", "nowhere"),
		Entry("malformed JSON in k8s.v1.cni.cncf.io/networks", "bad-json", `[{"name": "good"`, "k8s.v1.cni.cncf.io/networks"),
		Entry("a duplicate interface name", "dup-ifname", `[{"name": "good", "interface": "net1"}, {"name": "good", "interface": "net1"}]`, "net1"),
		Entry("a static IP outside the network", "ip-outside", `[{"name": "good", "ips": ["10.99.0.5"]}]`, "10.99.0.5"),
		Entry("a static IP already taken", "ip-taken", `[{"name": "good", "ips": ["GOOD-IP"]}]`, "GOOD-IP"),
		Entry("an invalid MAC", "bad-mac", `[{"name": "good", "mac": "02:00:00:zz:00:01"}]`, "02:00:00:zz:00:01"),
		Entry("a multicast MAC", "mcast-mac", `[{"name": "good", "mac": "01:00:5e:00:00:fb"}]`, `mac "01:00:5e:00:00:fb" is a multicast MAC`),
		Entry("a MAC another pod holds", "mac-taken", `[{"name": "good", "mac": "GOOD-MAC"}]`, "requested MAC GOOD-MAC is taken"),
	)

	It("a network with no address left: the pod that finds it exhausted says so, holds nothing, and gets one when one is freed", func() {
		apply(cidrNAD(ns, "tiny", "10.88.0.0/29"))
		var pods []string
		for i := range 6 {
			name := fmt.Sprintf("tiny-%d", i)
			pods = append(pods, name)
			apply(sleeper(ns, name, "tiny", node1))
		}
		status := func(pod string) string {
			return k("-n", ns, "get", "pod", pod, "-o", `jsonpath={.metadata.annotations.juniper\.net/networks-status}`)
		}
		failed := func() (out []string) {
			for _, p := range pods {
				if strings.Contains(status(p), "is exhausted") {
					out = append(out, p)
				}
			}
			return out
		}
		ready := func() int {
			return strings.Count(k("-n", ns, "get", "pods", "-o",
				`jsonpath={range .items[?(@.status.phase=="Running")]}{.metadata.name}{"\n"}{end}`), "tiny-")
		}
		Eventually(func() []string { return failed() }, "60s").ShouldNot(BeEmpty())
		exhausted := failed()[0]
		Expect(status(exhausted)).To(MatchRegexp(`^failure: .*Subnet bad/tiny-v4 \(10\.88\.0\.0/29\) is exhausted`))
		Eventually(func() string { return warnings("Pod", exhausted) }, "30s").Should(ContainSubstring("is exhausted"))
		uid := k("-n", ns, "get", "pod", exhausted, "-o", "jsonpath={.metadata.uid}")
		Eventually(func() string {
			return k("get", "vm,vmi,iip", "-A", "-l", "kube-manager.juniper.net/pod-uid="+uid, "-o", "name")
		}, "30s").Should(BeEmpty(), "the pod waiting for an address holds nothing")

		By("a pod of the network goes: a waiting pod gets the freed address at its next try")
		Eventually(ready, "60s").Should(Equal(len(pods) - len(failed())))
		before := ready()
		for _, p := range pods {
			if !slices.Contains(failed(), p) {
				k("-n", ns, "delete", "pod", p, "--wait=true")
				pods = slices.DeleteFunc(pods, func(s string) bool { return s == p })
				break
			}
		}
		Eventually(ready, "120s").Should(Equal(before))
		for _, p := range pods {
			k("-n", ns, "delete", "pod", p, "--ignore-not-found", "--wait=true")
		}
		k("-n", ns, "delete", "net-attach-def", "tiny", "--wait=true")
	})

	It("a second Kubemanager: Degraded DuplicateKubemanager, the first one stays Available", func() {
		apply(`apiVersion: configplane.juniper.net/v1alpha1
kind: Kubemanager
metadata: {name: second, namespace: contrail-system}
spec: {clusterName: second, podV4Subnet: 10.244.0.0/16}
`)
		Eventually(func() string {
			return k("-n", "contrail-system", "get", "kubemanager", "second", "-o",
				`jsonpath={.status.conditions[?(@.type=="Degraded")].reason}: {.status.conditions[?(@.type=="Degraded")].message}`)
		}, "30s").Should(And(HavePrefix("DuplicateKubemanager: "), ContainSubstring("only one Kubemanager per cluster is supported and contrail/contrail-k8s-kubemanager is already there")))
		Expect(k("-n", "contrail-system", "get", "deployments", "-o", "name")).NotTo(ContainSubstring("second"))
		k("-n", "contrail-system", "delete", "kubemanager", "second", "--wait=true", "--timeout=1m")
		Expect(theLab.WaitAvailable(context.Background(), time.Minute)).To(Succeed())
	})

	It("an image that never comes: the Kubemanager is Degraded with the reason, the running kubemanager keeps serving", func() {
		const kmNS, km = "contrail", "contrail-k8s-kubemanager"
		container := k("-n", kmNS, "get", "deployment", km, "-o", "jsonpath={.spec.template.spec.containers[0].name}")
		k("-n", kmNS, "patch", "kubemanager", km, "--type=merge", "-p",
			`{"spec":{"common":{"containers":[{"name":"`+container+`","image":"kontrail.io/kontrail-kubemanager:does-not-exist"}]}}}`)
		degraded := func() string {
			return k("-n", kmNS, "get", "kubemanager", km, "-o", `jsonpath={.status.conditions[?(@.type=="Degraded")].status} {.status.conditions[?(@.type=="Degraded")].message}`)
		}
		Eventually(degraded, "90s").Should(And(HavePrefix("True "), ContainSubstring("does-not-exist"), MatchRegexp(`ErrImagePull|ImagePullBackOff`)))
		By("meanwhile the old kubemanager still plugs new pods")
		apply(sleeper(ns, "during-bad-image", "good", node2))
		Expect(ipOn(networkStatus(ns, "during-bad-image"), ns+"/good")).NotTo(BeEmpty())
		k("-n", ns, "delete", "pod", "during-bad-image", "--wait=true")

		By("the image put back: Available, not Degraded")
		k("-n", kmNS, "patch", "kubemanager", km, "--type=json", "-p", `[{"op":"remove","path":"/spec/common/containers"}]`)
		k("-n", kmNS, "rollout", "status", "deployment", km, "--timeout=3m")
		Expect(theLab.WaitAvailable(context.Background(), 3*time.Minute)).To(Succeed())
		Eventually(degraded, "30s").Should(HavePrefix("False"))
	})

	It("the namespace's good pods kept working through all of it", func() {
		Expect(pings(ns, "good-1", goodIP)).To(BeTrue())
		Expect(strings.Fields(k("-n", ns, "get", "pods", "-o", "name"))).To(Equal([]string{"pod/good-1", "pod/good-2"}))
	})
})

// subnet is a Subnet in namespace bad with spec (YAML lines under spec).
func subnet(name, spec string) string {
	return fmt.Sprintf("apiVersion: core.contrail.juniper.net/v1alpha1\nkind: Subnet\nmetadata: {name: %s, namespace: bad}\nspec:\n  %s\n", name, spec)
}

// warnings are the Warning events of an object in namespace bad, one per
// line: reason and message.
func warnings(kind, name string) string {
	out := k("-n", "bad", "get", "events", "--field-selector",
		"type=Warning,involvedObject.kind="+kind+",involvedObject.name="+name,
		"-o", `jsonpath={range .items[*]}{.reason}: {.message}{"\n"}{end}`)
	return strings.TrimSpace(out)
}
