package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/kontrail/kontrail/tests/internal/lab"
)

// The operator on the lab: what a user changes in the four resources
// rolls into the stack, and deleting them removes it.
var _ = Describe("The operator", Ordered, Label("operator"), func() {
	const kubemanagerNS, kubemanager = "contrail", "contrail-k8s-kubemanager"
	const controllerNS, controller = "contrail-system", "contrail-k8s-controller"

	env := func(name string) string {
		return k("-n", kubemanagerNS, "get", "deployment", kubemanager, "-o",
			`jsonpath={.spec.template.spec.containers[0].env[?(@.name=="`+name+`")].value}`)
	}
	available := func() {
		GinkgoHelper()
		Expect(theLab.WaitAvailable(context.Background(), 3*time.Minute)).To(Succeed())
	}

	AfterAll(func() {
		deleteNamespaces("opr")
	})

	It("enableNad: false on the Kubemanager rolls KUBEMANAGER_ENABLE_NAD=false, and a NAD is then left alone; true again handles it", func() {
		k("create", "namespace", "opr")
		k("-n", kubemanagerNS, "patch", "kubemanager", kubemanager, "--type=merge", "-p", `{"spec":{"enableNad":false}}`)
		Eventually(func() string { return env("KUBEMANAGER_ENABLE_NAD") }, "30s").Should(Equal("false"))
		k("-n", kubemanagerNS, "rollout", "status", "deployment", kubemanager, "--timeout=2m")
		available()

		apply(cidrNAD("opr", "left-alone", "10.80.0.0/24"))
		Consistently(func() string {
			out, _ := run("-n", "opr", "get", "vn", "left-alone", "-o", "name")
			return out + k("-n", "opr", "get", "net-attach-def", "left-alone", "-o", `jsonpath={.metadata.annotations.juniper\.net/networks-status}`)
		}, "10s", "1s").Should(ContainSubstring("NotFound"), "no VirtualNetwork and no status for a NAD while NAD handling is off")

		k("-n", kubemanagerNS, "patch", "kubemanager", kubemanager, "--type=merge", "-p", `{"spec":{"enableNad":true}}`)
		Eventually(func() string { return env("KUBEMANAGER_ENABLE_NAD") }, "30s").Should(Equal("true"))
		k("-n", kubemanagerNS, "rollout", "status", "deployment", kubemanager, "--timeout=2m")
		Eventually(func() string {
			return k("-n", "opr", "get", "vn", "left-alone", "-o", "jsonpath={.status.state}", "--ignore-not-found")
		}, "60s").Should(Equal("Success"))
		k("-n", "opr", "delete", "net-attach-def", "left-alone", "--wait=true")
	})

	It("crossNamespaceNetworks: Deny keeps a namespace's pods off another namespace's NAD, saying which field decided; Allow again lets the pod in", func() {
		k("create", "namespace", "xns-a")
		k("create", "namespace", "xns-b")
		DeferCleanup(func() { deleteNamespaces("xns-a", "xns-b") })
		apply(cidrNAD("xns-b", "b-net", "10.81.0.0/24"))
		Eventually(func() string {
			return k("-n", "xns-b", "get", "vn", "b-net", "-o", "jsonpath={.status.state}", "--ignore-not-found")
		}, "60s").Should(Equal("Success"))

		k("-n", kubemanagerNS, "patch", "kubemanager", kubemanager, "--type=merge", "-p", `{"spec":{"crossNamespaceNetworks":{"policy":"Deny","sharedNamespaces":["xns-shared"]}}}`)
		Eventually(func() string { return env("KUBEMANAGER_CROSS_NAMESPACE_NETWORKS") }, "30s").Should(Equal("Deny"))
		k("-n", kubemanagerNS, "rollout", "status", "deployment", kubemanager, "--timeout=2m")
		available()
		apply(sleeper("xns-a", "intruder", "xns-b/b-net", ""))
		Eventually(func() string {
			return k("-n", "xns-a", "get", "pod", "intruder", "-o", `jsonpath={.metadata.annotations.juniper\.net/networks-status}`)
		}, "60s").Should(And(HavePrefix("failure: "), ContainSubstring("spec.crossNamespaceNetworks.policy is Deny and xns-b is not among its sharedNamespaces [xns-shared]")))
		Expect(k("-n", "xns-a", "get", "pod", "intruder", "-o", "jsonpath={.status.phase}")).To(Equal("Pending"))

		k("-n", kubemanagerNS, "patch", "kubemanager", kubemanager, "--type=merge", "-p", `{"spec":{"crossNamespaceNetworks":null}}`)
		Eventually(func() string { return env("KUBEMANAGER_CROSS_NAMESPACE_NETWORKS") }, "30s").Should(Equal("Allow"))
		k("-n", kubemanagerNS, "rollout", "status", "deployment", kubemanager, "--timeout=2m")
		available()
		k("-n", "xns-a", "wait", "--for=condition=Ready", "pod/intruder", "--timeout=3m")
		k("-n", "xns-a", "delete", "pod", "intruder", "--wait=true")
	})

	It("a new image for the controller rolls it, and the stack stays Available and working", func() {
		By("the lab's registry serves the controller's binary under a new tag")
		ref := lab.Registry + "/kontrail-controller:e2e-rolled"
		img := lab.Image{Ref: ref, Entrypoint: []string{"/kontrail-controller"}, User: "65532:65532",
			Files: []lab.File{{Path: "/kontrail-controller", Source: filepath.Join(theLab.Dir, "bin", "kontrail-controller")}}}
		Expect(lab.Build(img, filepath.Join(theLab.Dir, "images", "kontrail.io_kontrail-controller_e2e-rolled.tar"))).To(Succeed())
		Expect(theLab.ReloadRegistry(context.Background())).To(Succeed())

		container := k("-n", controllerNS, "get", "deployment", controller, "-o", "jsonpath={.spec.template.spec.containers[0].name}")
		before := k("-n", controllerNS, "get", "deployment", controller, "-o", "jsonpath={.spec.template.spec.containers[0].image}")
		Expect(before).NotTo(Equal(ref))
		k("-n", controllerNS, "patch", "controller", controller, "--type=merge", "-p",
			`{"spec":{"common":{"containers":[{"name":"`+container+`","image":"`+ref+`"}]}}}`)
		Eventually(func() string {
			return k("-n", controllerNS, "get", "deployment", controller, "-o", "jsonpath={.spec.template.spec.containers[0].image}")
		}, "30s").Should(Equal(ref))
		k("-n", controllerNS, "rollout", "status", "deployment", controller, "--timeout=3m")
		// The old pod may still be terminating when the rollout is done.
		Eventually(func() string {
			return k("-n", controllerNS, "get", "pods", "-l", "app="+controller, "-o", "jsonpath={.items[*].spec.containers[0].image}")
		}, "60s").Should(Equal(ref), "every controller pod runs the new image")
		available()

		By("the rolled controller allocates: a new network gets its VNI and subnet")
		apply(cidrNAD("opr", "after-roll", "10.81.0.0/24"))
		Eventually(func() string {
			return k("-n", "opr", "get", "vn", "after-roll", "-o", "jsonpath={.status.state}/{.status.virtualNetworkNetworkId}", "--ignore-not-found")
		}, "60s").Should(MatchRegexp(`^Success/\d+$`))
		k("-n", "opr", "delete", "net-attach-def", "after-roll", "--wait=true")

		By("back to the default image")
		k("-n", controllerNS, "patch", "controller", controller, "--type=json", "-p", `[{"op":"remove","path":"/spec/common/containers"}]`)
		Eventually(func() string {
			return k("-n", controllerNS, "get", "deployment", controller, "-o", "jsonpath={.spec.template.spec.containers[0].image}")
		}, "30s").Should(Equal(before))
		k("-n", controllerNS, "rollout", "status", "deployment", controller, "--timeout=3m")
		available()
	})

	It("deleting the four resources removes the stack (workloads, RBAC, service accounts); applying them again brings it back", func() {
		type made struct{ kind, namespace, name string }
		var stack []made
		for _, s := range lab.Samples {
			for _, name := range splitFields(k("-n", s.Namespace, "get", s.Resource, "-o", "jsonpath={.items[*].metadata.name}")) {
				stack = append(stack,
					made{"serviceaccount", s.Namespace, name},
					made{"clusterrole", "", "kontrail-" + s.Namespace + "-" + name},
					made{"clusterrolebinding", "", "kontrail-" + s.Namespace + "-" + name})
			}
		}
		Expect(stack).To(HaveLen(12))
		for _, s := range lab.Samples {
			k("-n", s.Namespace, "delete", s.Resource, "--all", "--wait=true", "--timeout=2m")
		}
		for _, ns := range []string{controllerNS, kubemanagerNS} {
			Eventually(func() string {
				return k("-n", ns, "get", "deployments,daemonsets,pods", "-o", "name")
			}, "2m").Should(BeEmpty(), "nothing of the stack runs in %s", ns)
		}
		for _, m := range stack {
			args := []string{"get", m.kind, m.name, "--ignore-not-found", "-o", "name"}
			if m.namespace != "" {
				args = append([]string{"-n", m.namespace}, args...)
			}
			Expect(k(args...)).To(BeEmpty(), "%s %s/%s", m.kind, m.namespace, m.name)
		}

		By("kubectl apply -k the samples again: Available, and a pod gets its networks")
		k("apply", "-k", filepath.Join(theLab.Dir, "install", "samples"))
		available()
		apply(cidrNAD("opr", "after-reinstall", "10.82.0.0/24") + "---\n" + sleeper("opr", "after-reinstall", "after-reinstall", node1))
		expectInterfaces("opr", "after-reinstall", "opr/after-reinstall")
		k("-n", "opr", "delete", "pod", "after-reinstall", "--wait=true")
	})
})

func splitFields(s string) []string { return strings.Fields(s) }
