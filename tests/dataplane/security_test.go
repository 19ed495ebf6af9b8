package dataplane

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"

	"github.com/containernetworking/plugins/pkg/ns"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/vishvananda/netlink"

	"github.com/kontrail/kontrail/cni/agentapi"
	"github.com/kontrail/kontrail/cni/agentapi/agentapitest"
)

// asNobody runs f as uid and gid 65534 on a thread of its own: what any
// local user or host-network pod of the node is.
func asNobody(f func()) {
	GinkgoHelper()
	Expect(agentapitest.AsUser(agentapitest.Nobody, f)).To(Succeed())
}

var _ = Describe("The agent's API, attacked", func() {
	It("answers root alone, on a socket no one else can reach or take: nobody neither lists nor unplugs, nor takes its name while the agent restarts, and the pod stays plugged", func() {
		namespace("dp-sock")
		nad("dp-sock", "sock", "172.16.81.0/24")
		victim := newPod("dp-sock", "victim", node1, "sock")
		victim.mustAdd()
		seen := victim.interfaces()
		socket, err := node1.AgentSocket()
		Expect(err).NotTo(HaveOccurred())
		Expect(socket).To(BeAnExistingFile())
		// Only the socket's own directory keeps nobody out: its parents
		// are opened to everyone, as /var/run is on a node.
		for dir := node1.Dir; dir != "/" && dir != os.TempDir(); dir = filepath.Dir(dir) {
			Expect(os.Chmod(dir, 0o755)).To(Succeed())
		}

		By("nobody cannot connect: the agent's ports are neither listed nor unplugged")
		asNobody(func() {
			_, err := os.Stat(node1.Dir)
			Expect(err).NotTo(HaveOccurred(), "the socket directory's parent is open")
			conn, err := net.Dial("unix", socket)
			if conn != nil {
				conn.Close()
			}
			Expect(errors.Is(err, fs.ErrPermission)).To(BeTrue(), "nobody's dial: %v", err)
		})

		By("nobody cannot take the socket's name while the agent is away")
		node1.StopAgent()
		asNobody(func() {
			l, err := net.Listen("unix", socket)
			if l != nil {
				l.Close()
			}
			Expect(errors.Is(err, fs.ErrPermission)).To(BeTrue(), "nobody's listen on the agent's socket: %v", err)
		})
		startAgent(node1)

		By("the agent serves again, and the pod kept its interfaces")
		agent := agentapi.NewClient(socket)
		Eventually(func() ([]agentapi.Port, error) { return agent.Ports(ctx) }).Should(ContainElement(HaveField("ContainerID", victim.ContainerID)))
		Expect(victim.interfaces()).To(Equal(seen))
		Expect(victim.Check()).To(Succeed())
	})

	It("refuses ports the control plane does not back (a foreign link, another MAC, another address or network, a pod that is not there), and the pod they name stays as it was", func() {
		namespace("dp-forge")
		nad("dp-forge", "forge", "172.16.82.0/24")
		victim := newPod("dp-forge", "victim", node1, "forge")
		victim.mustAdd()
		socket, err := node1.AgentSocket()
		Expect(err).NotTo(HaveOccurred())
		agent := agentapi.NewClient(socket)
		portsOf := func(containerID string) []agentapi.Port {
			ports, err := agent.Ports(ctx)
			Expect(err).NotTo(HaveOccurred())
			var out []agentapi.Port
			for _, p := range ports {
				if p.ContainerID == containerID {
					out = append(out, p)
				}
			}
			return out
		}
		before := portsOf(victim.ContainerID)
		Expect(before).To(HaveLen(2), "eth0 and eth1")
		var eth1 agentapi.Port
		for _, p := range before {
			if p.IfName == "eth1" {
				eth1 = p
			}
		}

		for _, forge := range []struct {
			what   string
			change func(p *agentapi.Port)
			says   string
		}{
			{"the node's fabric link as a host end", func(p *agentapi.Port) { p.ContainerID, p.HostIfName = "forged", "fabric0" },
				`host end "fabric0" is not its own`},
			{"another MAC", func(p *agentapi.Port) { p.MAC = "02:00:00:00:00:66" }, "MAC 02:00:00:00:00:66 is not its VMI's"},
			{"another address", func(p *agentapi.Port) { p.IPs = []string{"172.16.82.200"} }, "addresses [172.16.82.200] are not its InstanceIPs'"},
			{"another network", func(p *agentapi.Port) { p.Network = "dp-sock/sock" }, "not " + eth1.VMI + " on dp-sock/sock"},
			{"a pod that is not there", func(p *agentapi.Port) { p.PodName = "nosuchpod" }, "ports of pod dp-forge/nosuchpod"},
		} {
			By("forged: " + forge.what)
			p := eth1
			p.IPs = append([]string(nil), eth1.IPs...)
			forge.change(&p)
			err := agent.AddPorts(ctx, []agentapi.Port{p})
			var apiErr *agentapi.Error
			Expect(errors.As(err, &apiErr)).To(BeTrue(), "%s: %v", forge.what, err)
			Expect(apiErr.Code).To(Equal(uint(agentapi.CodeForbidden)), forge.what)
			Expect(apiErr.Message).To(ContainSubstring(forge.says), forge.what)
		}

		By("nothing of it took: the victim's ports as they were, the fabric link on no bridge")
		Expect(portsOf(victim.ContainerID)).To(Equal(before))
		Expect(portsOf("forged")).To(BeEmpty())
		Expect(node1.NS.Do(func(ns.NetNS) error {
			fabric, err := netlink.LinkByName("fabric0")
			if err != nil {
				return err
			}
			Expect(fabric.Attrs().MasterIndex).To(BeZero(), "fabric0 was put on a bridge")
			return nil
		})).To(Succeed())
		Expect(victim.Check()).To(Succeed())
	})
})
