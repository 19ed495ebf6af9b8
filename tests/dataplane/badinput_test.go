package dataplane

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/plugins/pkg/ns"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/kontrail/kontrail/tests/internal/nodes"
)

// execPlugin runs the node's installed plugin by hand with stdin and the
// CNI environment, from inside the node, and returns the error result it
// printed.
func execPlugin(node *nodes.Node, stdin string, env ...string) *types.Error {
	GinkgoHelper()
	var out bytes.Buffer
	Expect(node.NS.Do(func(ns.NetNS) error {
		cmd := exec.Command(filepath.Join(node.BinDir, "contrail-k8s-cni"))
		cmd.Env = append([]string{"CNI_PATH=" + node.BinDir}, env...)
		cmd.Stdin, cmd.Stdout = bytes.NewBufferString(stdin), &out
		err := cmd.Run()
		Expect(err).To(HaveOccurred(), "the plugin must fail: %s", out.String())
		return nil
	})).To(Succeed())
	e := &types.Error{}
	Expect(json.Unmarshal(out.Bytes(), e)).To(Succeed(), "a CNI error result on stdout: %q", out.String())
	return e
}

// withTimeout is the node's conflist with a short allocation timeout.
func withTimeout(node *nodes.Node, timeout string) *libcni.NetworkConfigList {
	GinkgoHelper()
	data, err := os.ReadFile(filepath.Join(node.ConfDir, "10-kontrail.conflist"))
	Expect(err).NotTo(HaveOccurred())
	var raw map[string]any
	Expect(json.Unmarshal(data, &raw)).To(Succeed())
	raw["plugins"].([]any)[0].(map[string]any)["allocationTimeout"] = timeout
	data, _ = json.Marshal(raw)
	list, err := libcni.ConfListFromBytes(data)
	Expect(err).NotTo(HaveOccurred())
	return list
}

func addWith(p *Pod, list *libcni.NetworkConfigList) error {
	cninet := libcni.NewCNIConfigWithCacheDir([]string{p.Node.BinDir}, filepath.Join(p.Node.Dir, "cni-cache"), nil)
	return p.Node.NS.Do(func(ns.NetNS) error {
		_, err := cninet.AddNetworkList(context.Background(), list, p.runtimeConf())
		return err
	})
}

var _ = Describe("Bad input", func() {
	It("gets a CNI error result, leaves no link behind, and the next ADD works", func() {
		namespace("dp-bad")
		nad("dp-bad", "fine", "172.16.70.0/24")
		links := func() []string { return hostEnds(node1) }
		before := settled(node1)
		base := []string{"CNI_COMMAND=ADD", "CNI_CONTAINERID=" + rand.String(16), "CNI_IFNAME=eth0",
			"CNI_ARGS=K8S_POD_NAMESPACE=dp-bad;K8S_POD_NAME=ghost"}

		By("garbage on stdin")
		pod := newPod("dp-bad", "bad-stdin", node1, "fine")
		e := execPlugin(node1, "this is not JSON", append(base, "CNI_NETNS="+pod.NS.Path())...)
		Expect(e.Code).To(BeElementOf(uint(types.ErrDecodingFailure), uint(types.ErrIncompatibleCNIVersion)))
		Expect(e.Msg).NotTo(BeEmpty())

		By("no cniVersion, and an unknown one")
		e = execPlugin(node1, `{"name": "kontrail", "type": "contrail-k8s-cni"}`, append(base, "CNI_NETNS="+pod.NS.Path())...)
		Expect(e.Msg).NotTo(BeEmpty())
		e = execPlugin(node1, `{"cniVersion": "9.9.9", "name": "kontrail", "type": "contrail-k8s-cni"}`, append(base, "CNI_NETNS="+pod.NS.Path())...)
		Expect(e.Code).To(Equal(uint(types.ErrIncompatibleCNIVersion)))

		By("a netns that does not exist")
		e = execPlugin(node1, `{"cniVersion": "1.1.0", "name": "kontrail", "type": "contrail-k8s-cni"}`,
			append(base, "CNI_NETNS=/var/run/netns/kontrail-no-such-netns")...)
		Expect(e.Code).To(Equal(uint(types.ErrUnknownContainer)))
		Expect(e.Msg).To(ContainSubstring("kontrail-no-such-netns"))

		By("a pod the node does not know: the wait is bounded")
		ghost := &Pod{Obj: pod.Obj.DeepCopy(), NS: pod.NS, ContainerID: rand.String(32), Node: node1}
		ghost.Obj.Name, ghost.Obj.UID = "ghost", ""
		err := addWith(ghost, withTimeout(node1, "2s"))
		Expect(err).To(HaveOccurred())
		Expect(cniErr(err).Code).To(Equal(uint(types.ErrUnknownContainer)))
		Expect(err.Error()).To(ContainSubstring("pod dp-bad/ghost is not known on node node1"))

		By("a pod whose network does not exist")
		orphan := newPod("dp-bad", "orphan", node1, "no-such-network")
		err = addWith(orphan, withTimeout(node1, "30s"))
		Expect(err).To(HaveOccurred())
		Expect(cniErr(err).Code).To(Equal(uint(types.ErrInvalidNetworkConfig)))
		Expect(err.Error()).To(ContainSubstring("NetworkAttachmentDefinition dp-bad/no-such-network not found"))

		By("the agent is down")
		node1.StopAgent()
		err = pod.Add()
		startAgent(node1)
		Expect(err).To(HaveOccurred())
		Expect(cniErr(err).Code).To(Equal(uint(types.ErrTryAgainLater)))
		Expect(err.Error()).To(ContainSubstring("does not answer"))

		By("nothing was left behind, and the next ADD works")
		Expect(links()).To(BeEmpty())
		Eventually(func() []string { return snapshot(node1) }).Should(Equal(before))
		Eventually(func() error {
			_ = pod.Del()
			return pod.Add()
		}).Should(Succeed())
		DeferCleanup(func() { Expect(pod.Del()).To(Succeed()) })
		Expect(pod.interfaces()).To(HaveLen(2))
	})
})
