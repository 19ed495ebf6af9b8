package dataplane

import (
	"net"
	"strings"

	"github.com/containernetworking/plugins/pkg/ns"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/vishvananda/netlink"

	"github.com/kontrail/kontrail/tests/internal/nodes"
)

// neighbourMAC is the MAC a pod resolved addr to on ifName.
func neighbourMAC(p *Pod, ifName, addr string) string {
	GinkgoHelper()
	var mac string
	Expect(p.NS.Do(func(ns.NetNS) error {
		l, err := netlink.LinkByName(ifName)
		if err != nil {
			return err
		}
		neighs, err := netlink.NeighList(l.Attrs().Index, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		for _, n := range neighs {
			if n.IP.Equal(net.ParseIP(addr)) {
				mac = n.HardwareAddr.String()
			}
		}
		return nil
	})).To(Succeed())
	return mac
}

var _ = Describe("Networks", func() {
	It("keep their pods apart, and two networks with the same CIDR work side by side on the same nodes", func() {
		namespace("dp-iso")
		nad("dp-iso", "red", "172.16.20.0/24")
		nad("dp-iso", "blue", "172.16.20.0/24")
		nad("dp-iso", "green", "172.16.30.0/24")
		red1, red2 := newPod("dp-iso", "red-1", node1, "red"), newPod("dp-iso", "red-2", node2, "red")
		blue1, blue2 := newPod("dp-iso", "blue-1", node1, "blue"), newPod("dp-iso", "blue-2", node2, "blue")
		green := newPod("dp-iso", "green-1", node2, "green")
		for _, p := range []*Pod{red1, red2, blue1, blue2, green} {
			p.mustAdd()
		}

		By("each network's pods reach each other across nodes, and resolve each other's MACs, not the other network's")
		Eventually(func() error { return ping(red1.NS, red2.ip("eth1")) }).Should(Succeed())
		Eventually(func() error { return ping(blue1.NS, blue2.ip("eth1")) }).Should(Succeed())
		Expect(neighbourMAC(red1, "eth1", red2.ip("eth1"))).To(Equal(red2.interfaces()["eth1"].MAC))
		Expect(neighbourMAC(blue1, "eth1", blue2.ip("eth1"))).To(Equal(blue2.interfaces()["eth1"].MAC))

		By("a pod of another network cannot reach them")
		Expect(ping(green.NS, red1.ip("eth1"))).NotTo(Succeed())
		Expect(ping(green.NS, red2.ip("eth1"))).NotTo(Succeed())
		Expect(ping(red1.NS, green.ip("eth1"))).NotTo(Succeed())

		By("on the nodes, each network has its own bridge and VXLAN device")
		links, err := nodes.Exec(node1.NS, "ip", "-o", "link", "show", "type", "vxlan")
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.Count(links, "kvx")).To(BeNumerically(">=", 3), links) // pod network, red, blue
	})

	It("move the default route to the network a selection element's default-route names, off eth0", func() {
		namespace("dp-route")
		nad("dp-route", "egress", "172.16.40.0/24")
		p := newPod("dp-route", "routed", node1, `[{"name": "egress", "default-route": ["172.16.40.254"]}]`)
		p.mustAdd()
		var defaults []string
		Expect(p.NS.Do(func(ns.NetNS) error {
			routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
			if err != nil {
				return err
			}
			for _, r := range routes {
				if r.Dst == nil || r.Dst.String() == "0.0.0.0/0" {
					l, _ := netlink.LinkByIndex(r.LinkIndex)
					defaults = append(defaults, l.Attrs().Name+" via "+r.Gw.String())
				}
			}
			return nil
		})).To(Succeed())
		Expect(defaults).To(Equal([]string{"eth1 via 172.16.40.254"}))
		var gateways []string
		for _, r := range p.Result.Routes {
			gateways = append(gateways, r.Dst.String()+" via "+r.GW.String())
		}
		Expect(gateways).To(Equal([]string{"0.0.0.0/0 via 172.16.40.254"}))
	})

	It("give a pod on the pod network alone its default route through eth0", func() {
		p := newPod("default", "plain", node2, "")
		p.mustAdd()
		Expect(p.interfaces()).To(HaveLen(1))
		out, err := nodes.Exec(p.NS, "ip", "route", "show", "default")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(ContainSubstring("default via 10.244.0.1 dev eth0"))
	})
})
