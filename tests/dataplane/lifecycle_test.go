package dataplane

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/plugins/pkg/ns"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/vishvananda/netlink"

	"github.com/kontrail/kontrail/tests/internal/nodes"
)

// hostEnds lists the node's pod interface host ends (kv...).
func hostEnds(node *nodes.Node) []string {
	GinkgoHelper()
	out, err := nodes.Exec(node.NS, "ip", "-o", "link", "show", "type", "veth")
	Expect(err).NotTo(HaveOccurred())
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], "kv") {
			names = append(names, strings.Split(strings.TrimSuffix(f[1], ":"), "@")[0])
		}
	}
	return names
}

// settled is a node's snapshot once two in a row agree, further apart
// than an idle network's grace plus a resync (1 s + 2 s).
func settled(node *nodes.Node) []string {
	GinkgoHelper()
	var last []string
	Eventually(func() bool {
		s := snapshot(node)
		same := slices.Equal(s, last)
		last = s
		return same
	}).WithPolling(3500 * time.Millisecond).Should(BeTrue())
	return last
}

var _ = Describe("Pod lifecycle", func() {
	It("DEL leaves nothing behind, and an agent restart between ADD and DEL changes nothing the pod sees", func() {
		namespace("dp-life")
		nad("dp-life", "life", "172.16.50.0/24")
		// The previous spec's DEL may still be settling on the nodes.
		before1, before2 := settled(node1), settled(node2)

		a := newPod("dp-life", "life-1", node1, "life")
		b := newPod("dp-life", "life-2", node2, "life")
		Expect(a.Add()).To(Succeed())
		Expect(b.Add()).To(Succeed())
		Eventually(func() error { return ping(a.NS, b.ip("eth1")) }).Should(Succeed())
		seen := a.interfaces()

		By("killing and restarting node1's agent")
		node1.StopAgent()
		Expect(ping(a.NS, b.ip("eth1"))).To(Succeed(), "the dataplane outlives the agent")
		startAgent(node1)
		Consistently(func() error { return ping(a.NS, b.ip("eth1")) }, "3s", "500ms").Should(Succeed())
		Expect(a.interfaces()).To(Equal(seen))
		Expect(a.Check()).To(Succeed())

		By("DEL of both: the nodes hold exactly what they held before")
		Expect(a.Del()).To(Succeed())
		Expect(b.Del()).To(Succeed())
		Eventually(func() []string { return snapshot(node1) }).Should(Equal(before1))
		Eventually(func() []string { return snapshot(node2) }).Should(Equal(before2))

		By("DEL again, and DEL after the netns is gone, succeed")
		Expect(a.Del()).To(Succeed())
		Expect(b.NS.Close()).To(Succeed())
		Expect(b.Del()).To(Succeed())
	})

	for _, loss := range []struct {
		what string
		do   func(path string) error
	}{
		{"deleted", os.Remove},
		{"corrupt", func(path string) error { return os.WriteFile(path, []byte(`{"ports": [{"containerID": `), 0o600) }},
	} {
		It("an agent whose port state file is "+loss.what+" keeps every running pod plugged: the ports are read back from the node's interfaces", func() {
			namespace("dp-state-" + loss.what)
			nad("dp-state-"+loss.what, "state", "172.16.70.0/24")
			a := newPod("dp-state-"+loss.what, "state-1", node1, "state")
			b := newPod("dp-state-"+loss.what, "state-2", node2, "state")
			a.mustAdd()
			b.mustAdd()
			DeferCleanup(func() { _ = a.Del(); _ = b.Del() })
			Eventually(func() error { return ping(a.NS, b.ip("eth1")) }).Should(Succeed())
			seen, ends := a.interfaces(), hostEnds(node1)

			node1.StopAgent()
			Expect(loss.do(filepath.Join(node1.Dir, "state", node1.Name, "ports.json"))).To(Succeed())
			startAgent(node1)
			DeferCleanup(func() { Expect(node1.AgentLog()).To(ContainSubstring("port read back from its host end")) })
			// Reconciles run every 2 s: three of them, the pod stays plugged.
			Consistently(func() error { return ping(a.NS, b.ip("eth1")) }, "7s", "500ms").Should(Succeed())
			Expect(hostEnds(node1)).To(ConsistOf(ends))
			Expect(a.interfaces()).To(Equal(seen))
			Expect(a.Check()).To(Succeed())
			Expect(a.Del()).To(Succeed(), "DEL finds the ports read back")
		})
	}

	It("CHECK fails once an interface is removed behind the plugin's back; GC removes what a crashed runtime left", func() {
		namespace("dp-check")
		nad("dp-check", "check", "172.16.60.0/24")
		kept := newPod("dp-check", "kept", node1, "check")
		left := newPod("dp-check", "left-over", node1, "check")
		kept.mustAdd()
		left.mustAdd()
		Expect(kept.Check()).To(Succeed())

		Expect(kept.NS.Do(func(ns.NetNS) error {
			l, err := netlink.LinkByName("eth1")
			if err != nil {
				return err
			}
			return netlink.LinkDel(l)
		})).To(Succeed())
		err := kept.Check()
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("eth1"))

		By("GC with only the kept pod valid")
		leftEnds := []string{}
		for _, itf := range left.Result.Interfaces {
			if itf.Sandbox == "" {
				leftEnds = append(leftEnds, itf.Name)
			}
		}
		Expect(hostEnds(node1)).To(ContainElements(leftEnds))
		Expect(cni(node1, func(ctx context.Context, c *libcni.CNIConfig, l *libcni.NetworkConfigList) error {
			return c.GCNetworkList(ctx, l, &libcni.GCArgs{ValidAttachments: []types.GCAttachment{{ContainerID: kept.ContainerID, IfName: "eth0"}}})
		})).To(Succeed())
		Expect(hostEnds(node1)).NotTo(ContainElements(leftEnds))
		Expect(left.interfaces()).To(BeEmpty(), "the pod ends went with their host ends")
		Expect(hostEnds(node1)).To(ContainElement(kept.Result.Interfaces[0].Name), "the kept pod's ports stay")
	})

	It("STATUS reports whether the agent is ready", func() {
		status := func() error {
			return cni(node2, func(ctx context.Context, c *libcni.CNIConfig, l *libcni.NetworkConfigList) error {
				return c.GetStatusNetworkList(ctx, l)
			})
		}
		Expect(status()).To(Succeed())
		node2.StopAgent()
		DeferCleanup(func() { startAgent(node2); Eventually(status).Should(Succeed()) })
		err := status()
		Expect(err).To(HaveOccurred())
		Expect(cniErr(err).Code).To(Equal(uint(types.ErrPluginNotAvailable)))
	})

	It("installs the plugin root-owned, 0755, not setuid", func() {
		info, err := os.Stat(filepath.Join(node1.BinDir, "contrail-k8s-cni"))
		Expect(err).NotTo(HaveOccurred())
		Expect(info.Mode().Perm()).To(Equal(os.FileMode(0o755)))
		Expect(info.Mode() & os.ModeSetuid).To(BeZero())
		data, err := os.ReadFile(filepath.Join(node1.ConfDir, "10-kontrail.conflist"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(data)).To(ContainSubstring(`"type": "contrail-k8s-cni"`))
	})
})
