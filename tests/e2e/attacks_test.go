package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Hostile callers on a real cluster: tokens taken from Kontrail's pods
// (bound to their pod and node, as kubelet mounts them), and users who
// name what is not theirs.
var _ = Describe("Hostile callers", Ordered, Label("security"), func() {
	const ns = "hostile"

	BeforeAll(func() {
		k("create", "namespace", ns)
		apply(sleeper(ns, "victim", "", node1))
		networkStatus(ns, "victim")
	})

	AfterAll(func() {
		k("-n", ns, "delete", "pod", "--all", "--wait=true", "--timeout=2m")
		deleteNamespaces(ns)
	})

	// tokenOf is a token of the account of a Kontrail pod, bound to that
	// pod (and so to its node), as the one kubelet mounts in it.
	tokenOf := func(namespace, selector, node, account string) string {
		GinkgoHelper()
		args := []string{"-n", namespace, "get", "pods", "-l", selector, "-o", "jsonpath={.items[*].metadata.name}"}
		if node != "" {
			args = append(args, "--field-selector=spec.nodeName="+node)
		}
		pods := strings.Fields(k(args...))
		Expect(pods).NotTo(BeEmpty(), "a pod %s on %q", selector, node)
		pod := pods[0]
		return strings.TrimSpace(k("-n", namespace, "create", "token", account, "--bound-object-kind=Pod", "--bound-object-name="+pod, "--duration=10m"))
	}

	// asToken runs kubectl with the token alone (no client certificate).
	asToken := func(token string, args ...string) (string, error) {
		GinkgoHelper()
		cfg, err := clientcmd.LoadFromFile(theLab.Kubeconfig())
		Expect(err).NotTo(HaveOccurred())
		for name := range cfg.AuthInfos {
			cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: token}
		}
		path := filepath.Join(GinkgoT().TempDir(), "token.kubeconfig")
		Expect(clientcmd.WriteToFile(*cfg, path)).To(Succeed())
		out, err := exec.Command(kubectl, append([]string{"--kubeconfig", path}, args...)...).CombinedOutput()
		return string(out), err
	}

	It("an agent's token writes its own node's VirtualRouter, never another node's", func() {
		token := tokenOf("contrail", "app=contrail-vrouter-nodes", node1, "contrail-vrouter-nodes")
		out, err := asToken(token, "label", "virtualrouter", node2, "hostile=stolen")
		Expect(err).To(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("a vrouter agent writes only the VirtualRouter of the node its token is bound to"))
		out, err = asToken(token, "label", "virtualrouter", node1, "hostile=own")
		Expect(err).NotTo(HaveOccurred(), out)
		k("label", "virtualrouter", node1, "hostile-")
		Expect(k("get", "virtualrouter", node2, "-o", "jsonpath={.metadata.labels.hostile}")).To(BeEmpty())
	})

	It("kubemanager's token changes no pod's image, only its own annotations", func() {
		token := tokenOf("contrail", "app=contrail-k8s-kubemanager", "", "contrail-k8s-kubemanager")
		out, err := asToken(token, "-n", ns, "set", "image", "pod/victim", "busybox=evil")
		Expect(err).To(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("kubemanager changes no pod's spec"))
		out, err = asToken(token, "-n", ns, "annotate", "pod/victim", "other.io/thing=x")
		Expect(err).To(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("kubemanager changes only its own pod annotations"))
		Expect(k("-n", ns, "get", "pod", "victim", "-o", "jsonpath={.spec.containers[0].image}")).To(Equal("busybox"))
	})

	It("a NAD naming a route target of the controller's gets a failure status naming the range, and no network", func() {
		apply(`apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata:
  name: importer
  namespace: hostile
  annotations:
    juniper.net/networks: '{"ipamV4Subnet": "10.95.0.0/24", "importRouteTargetList": ["target:64512:8000001"]}'
spec:
  config: '{"cniVersion": "0.3.1", "name": "importer", "type": "contrail-k8s-cni"}'
`)
		Eventually(func() string {
			return k("-n", ns, "get", "network-attachment-definition", "importer", "-o", `jsonpath={.metadata.annotations.juniper\.net/networks-status}`)
		}, "30s").Should(And(HavePrefix("failure: "), ContainSubstring("target:<AS>:8000000 and above are the controller's")))
		out, err := run("-n", ns, "get", "virtualnetwork", "importer")
		Expect(err).To(HaveOccurred(), out)
		k("-n", ns, "delete", "network-attachment-definition", "importer")
	})
})
