package dataplane

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/containernetworking/plugins/pkg/ns"
	. "github.com/onsi/gomega"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// What a pod with NET_RAW can send: frames it writes whole on a packet
// socket, from any MAC and address.

// arpReply is an Ethernet frame: an ARP reply saying ip is at mac, sent
// from mac to dst (dstIP).
func arpReply(mac net.HardwareAddr, ip net.IP, dst net.HardwareAddr, dstIP net.IP) []byte {
	f := ethernet(dst, mac, unix.ETH_P_ARP)
	f = binary.BigEndian.AppendUint16(f, 1)      // Ethernet
	f = binary.BigEndian.AppendUint16(f, 0x0800) // IPv4
	f = append(f, 6, 4)
	f = binary.BigEndian.AppendUint16(f, 2) // reply
	f = append(f, mac...)
	f = append(f, ip.To4()...)
	f = append(f, dst...)
	return append(f, dstIP.To4()...)
}

// echoRequest is an Ethernet frame: an ICMP echo request from src (srcMAC)
// to dst (dstMAC).
func echoRequest(srcMAC net.HardwareAddr, src net.IP, dstMAC net.HardwareAddr, dst net.IP) []byte {
	icmp := []byte{8, 0, 0, 0, 0x4b, 0x4e, 0, 1}
	icmp = append(icmp, []byte("kontrail spoof test")...)
	binary.BigEndian.PutUint16(icmp[2:], checksum(icmp))
	ip := []byte{0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, unix.IPPROTO_ICMP, 0, 0}
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(icmp)))
	ip = append(ip, src.To4()...)
	ip = append(ip, dst.To4()...)
	binary.BigEndian.PutUint16(ip[10:], checksum(ip))
	return append(append(ethernet(dstMAC, srcMAC, unix.ETH_P_IP), ip...), icmp...)
}

func ethernet(dst, src net.HardwareAddr, ethertype uint16) []byte {
	f := append(append([]byte{}, dst...), src...)
	return binary.BigEndian.AppendUint16(f, ethertype)
}

func checksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// sendFrame writes a frame whole on the pod's interface, as a process
// with NET_RAW in the pod can.
func (p *Pod) sendFrame(ifName string, frame []byte) {
	Expect(p.NS.Do(func(ns.NetNS) error {
		link, err := netlink.LinkByName(ifName)
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		var dst [8]byte
		copy(dst[:], frame[:6])
		return unix.Sendto(fd, frame, 0, &unix.SockaddrLinklayer{Ifindex: link.Attrs().Index, Halen: 6, Addr: dst})
	})).To(Succeed())
}

// mac is the MAC of the pod's interface.
func (p *Pod) mac(ifName string) net.HardwareAddr {
	mac, err := net.ParseMAC(p.interfaces()[ifName].MAC)
	Expect(err).NotTo(HaveOccurred())
	return mac
}

// neighbour is the MAC the pod's kernel holds for ip, IPv4 or IPv6 (""
// when none).
func (p *Pod) neighbour(ip string) string {
	var mac string
	family := netlink.FAMILY_V4
	if net.ParseIP(ip).To4() == nil {
		family = netlink.FAMILY_V6
	}
	Expect(p.NS.Do(func(ns.NetNS) error {
		neighs, err := netlink.NeighList(0, family)
		if err != nil {
			return err
		}
		for _, n := range neighs {
			if n.IP.Equal(net.ParseIP(ip)) {
				mac = n.HardwareAddr.String()
			}
		}
		return nil
	})).To(Succeed())
	return mac
}

// echoRequestsIn counts the ICMP echo requests the pod's kernel received
// (Icmp InEchos of its network namespace).
func (p *Pod) echoRequestsIn() int {
	n := -1
	Expect(p.NS.Do(func(ns.NetNS) error {
		f, err := os.Open("/proc/thread-self/net/snmp")
		if err != nil {
			return err
		}
		defer f.Close()
		var header []string
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) == 0 || fields[0] != "Icmp:" {
				continue
			}
			if header == nil {
				header = fields
				continue
			}
			for i, h := range header {
				if h == "InEchos" {
					n, err = strconv.Atoi(fields[i])
					return err
				}
			}
		}
		return fmt.Errorf("no Icmp InEchos in /proc/net/snmp")
	})).To(Succeed())
	return n
}

// neighbourAdvert is an Ethernet frame: an unsolicited ICMPv6 neighbour
// advertisement (override) saying target is at mac, from src to dst.
func neighbourAdvert(mac net.HardwareAddr, src, target net.IP, dstMAC net.HardwareAddr, dst net.IP) []byte {
	icmp := []byte{136, 0, 0, 0, 0x20, 0, 0, 0} // override
	icmp = append(icmp, target.To16()...)
	icmp = append(icmp, 2, 1) // target link-layer address
	icmp = append(icmp, mac...)
	pseudo := append(append(append([]byte{}, src.To16()...), dst.To16()...), 0, 0, 0, byte(len(icmp)), 0, 0, 0, unix.IPPROTO_ICMPV6)
	binary.BigEndian.PutUint16(icmp[2:], checksum(append(pseudo, icmp...)))
	ip6 := []byte{0x60, 0, 0, 0, 0, byte(len(icmp)), unix.IPPROTO_ICMPV6, 255}
	ip6 = append(append(ip6, src.To16()...), dst.To16()...)
	return append(append(ethernet(dstMAC, mac, unix.ETH_P_IPV6), ip6...), icmp...)
}

// ip6 is the pod's global IPv6 address on an interface.
func (p *Pod) ip6(ifName string) string {
	var addr string
	Expect(p.NS.Do(func(ns.NetNS) error {
		link, err := netlink.LinkByName(ifName)
		if err != nil {
			return err
		}
		addrs, err := netlink.AddrList(link, netlink.FAMILY_V6)
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if a.IP.IsGlobalUnicast() {
				addr = a.IP.String()
			}
		}
		return nil
	})).To(Succeed())
	Expect(addr).NotTo(BeEmpty(), "pod %s has no IPv6 address on %s", p.Obj.Name, ifName)
	return addr
}
