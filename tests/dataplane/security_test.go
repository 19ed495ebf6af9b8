package dataplane

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kontrail/kontrail/cni/agentapi"
	"github.com/kontrail/kontrail/cni/agentapi/agentapitest"
	"github.com/kontrail/kontrail/tests/internal/nodes"
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

var _ = Describe("A pod's port, attacked", func() {
	It("drops what a pod with NET_RAW sends as another (ARP for the gateway or a neighbour, a neighbour's MAC or address), and lets its own through", func() {
		namespace("dp-spoof")
		nad("dp-spoof", "spoof", "172.16.83.0/24")
		attacker := newPod("dp-spoof", "attacker", node1, "spoof")
		victim := newPod("dp-spoof", "victim", node1, "spoof")
		neighbour := newPod("dp-spoof", "neighbour", node1, "spoof")
		for _, p := range []*Pod{attacker, victim, neighbour} {
			p.mustAdd()
		}
		var gateway string
		for _, ipc := range victim.Result.IPs {
			if ipc.Gateway != nil && victim.Result.Interfaces[*ipc.Interface].Name == "eth0" {
				gateway = ipc.Gateway.String()
			}
		}
		Expect(gateway).NotTo(BeEmpty(), "eth0's gateway in the victim's CNI result")
		neighbourIP, victimIP := neighbour.ip("eth1"), victim.ip("eth1")

		By("the victim knows the gateway (eth0) and the neighbour (eth1)")
		Eventually(func() error { return ping(victim.NS, gateway) }).Should(Succeed())
		Eventually(func() error { return ping(victim.NS, neighbourIP) }).Should(Succeed())
		gatewayMAC, neighbourMAC := victim.neighbour(gateway), victim.neighbour(neighbourIP)
		Expect(gatewayMAC).NotTo(BeEmpty())
		Expect(neighbourMAC).To(Equal(neighbour.mac("eth1").String()))
		// An ARP reply overrides a known entry once it is a second old
		// (the kernel's locktime).
		time.Sleep(1100 * time.Millisecond)

		By("ARP: the attacker says the gateway, then the neighbour, is at its MAC")
		attacker.sendFrame("eth0", arpReply(attacker.mac("eth0"), net.ParseIP(gateway), victim.mac("eth0"), net.ParseIP(victim.ip("eth0"))))
		attacker.sendFrame("eth1", arpReply(attacker.mac("eth1"), net.ParseIP(neighbourIP), victim.mac("eth1"), net.ParseIP(victimIP)))
		Consistently(func() []string {
			return []string{victim.neighbour(gateway), victim.neighbour(neighbourIP)}
		}, "2s", "200ms").Should(Equal([]string{gatewayMAC, neighbourMAC}), "the victim's ARP entries were taken")

		By("MAC: a frame from the neighbour's MAC does not move it to the attacker's port")
		attacker.sendFrame("eth1", echoRequest(neighbour.mac("eth1"), net.ParseIP(neighbourIP), victim.mac("eth1"), net.ParseIP(victimIP)))
		neighbourPort := agentapi.HostIfName(neighbour.ContainerID, "eth1")
		Consistently(func() string { return bridgePortOf(node1, neighbour.mac("eth1")) }, "1s", "200ms").Should(Equal(neighbourPort))

		By("IP: an echo request from the neighbour's address does not reach the victim; one from the attacker's own does")
		before := victim.echoRequestsIn()
		attacker.sendFrame("eth1", echoRequest(attacker.mac("eth1"), net.ParseIP(neighbourIP), victim.mac("eth1"), net.ParseIP(victimIP)))
		Consistently(victim.echoRequestsIn, "1s", "200ms").Should(Equal(before), "a spoofed echo request arrived")
		attacker.sendFrame("eth1", echoRequest(attacker.mac("eth1"), net.ParseIP(attacker.ip("eth1")), victim.mac("eth1"), net.ParseIP(victimIP)))
		Eventually(victim.echoRequestsIn).Should(Equal(before+1), "the attacker's own echo request (the control)")

		By("the pods' own traffic is as it was")
		Expect(ping(victim.NS, neighbourIP)).To(Succeed())
		Expect(ping(attacker.NS, victimIP)).To(Succeed())
	})
})

var _ = Describe("A pod's port, attacked over IPv6", func() {
	It("drops a neighbour advertisement a pod with NET_RAW sends for a neighbour's IPv6 address", func() {
		namespace("dp-spoof6")
		n := &nadv1.NetworkAttachmentDefinition{ObjectMeta: metav1.ObjectMeta{Namespace: "dp-spoof6", Name: "dual",
			Annotations: map[string]string{"juniper.net/networks": `{"ipamV4Subnet": "172.16.84.0/24", "ipamV6Subnet": "fd00:84::/64"}`}},
			Spec: nadv1.NetworkAttachmentDefinitionSpec{Config: `{"cniVersion": "0.3.1", "name": "dual", "type": "contrail-k8s-cni"}`}}
		Expect(client.IgnoreAlreadyExists(k8sClient.Create(ctx, n))).To(Succeed())
		attacker := newPod("dp-spoof6", "attacker", node1, "dual")
		victim := newPod("dp-spoof6", "victim", node1, "dual")
		neighbour := newPod("dp-spoof6", "neighbour", node1, "dual")
		for _, p := range []*Pod{attacker, victim, neighbour} {
			p.mustAdd()
		}
		neighbourIP, victimIP, attackerIP := neighbour.ip6("eth1"), victim.ip6("eth1"), attacker.ip6("eth1")

		By("the victim knows the neighbour over IPv6 (after duplicate address detection)")
		Eventually(func() error { return ping(victim.NS, neighbourIP) }, "20s").Should(Succeed())
		neighbourMAC := victim.neighbour(neighbourIP)
		Expect(neighbourMAC).To(Equal(neighbour.mac("eth1").String()))
		// An override is taken once the entry is a second old (locktime).
		time.Sleep(1100 * time.Millisecond)

		By("the attacker advertises the neighbour's address at its own MAC")
		attacker.sendFrame("eth1", neighbourAdvert(attacker.mac("eth1"), net.ParseIP(attackerIP), net.ParseIP(neighbourIP), victim.mac("eth1"), net.ParseIP(victimIP)))
		Consistently(func() string { return victim.neighbour(neighbourIP) }, "2s", "200ms").Should(Equal(neighbourMAC), "the victim's neighbour entry was taken")

		By("the attacker's own IPv6 traffic passes (neighbour discovery for its own address included)")
		Expect(ping(victim.NS, attackerIP)).To(Succeed())
		Expect(victim.neighbour(attackerIP)).To(Equal(attacker.mac("eth1").String()))
		Expect(ping(victim.NS, neighbourIP)).To(Succeed())
	})
})

// bridgePortOf names the node's bridge port its forwarding table holds mac
// on ("" when none).
func bridgePortOf(node *nodes.Node, mac net.HardwareAddr) string {
	var port string
	Expect(node.NS.Do(func(ns.NetNS) error {
		entries, err := netlink.NeighList(0, unix.AF_BRIDGE)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.HardwareAddr.String() == mac.String() {
				if l, err := netlink.LinkByIndex(e.LinkIndex); err == nil && l.Attrs().MasterIndex != 0 {
					port = l.Attrs().Name
				}
			}
		}
		return nil
	})).To(Succeed())
	return port
}
