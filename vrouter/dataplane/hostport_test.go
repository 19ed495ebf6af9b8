package dataplane

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// hostPortLab is a node (the test's namespace) with the pod network's
// bridge, three pods, each answering its name on TCP and UDP 8080, and a
// client on the node's fabric (192.168.100.2; the node is .1 and .10).
type hostPortLab struct {
	t      *testing.T
	client ns.NetNS
	pods   map[string]ns.NetNS // by name
	state  State
}

var (
	nodeIP  = netip.MustParseAddr("192.168.100.1")
	nodeIP2 = netip.MustParseAddr("192.168.100.10")
)

func newHostPortLab(t *testing.T) *hostPortLab {
	fabric(t, nodeIP.String()+"/24")
	fab, err := netlink.LinkByName("fabric0")
	must(t, err)
	a, _ := netlink.ParseAddr(nodeIP2.String() + "/24")
	must(t, netlink.AddrAdd(fab, a))
	lo, err := netlink.LinkByName("lo")
	must(t, err)
	must(t, netlink.LinkSetUp(lo))
	l := &hostPortLab{t: t, pods: map[string]ns.NetNS{}}
	l.client = newNS(t)
	peer, err := netlink.LinkByName("fabric0p")
	must(t, err)
	must(t, netlink.LinkSetNsFd(peer, int(l.client.Fd())))
	must(t, l.client.Do(func(ns.NetNS) error {
		configure(t, "fabric0p", "192.168.100.2/24", "")
		return nil
	}))
	network := Network{Name: "pods", VNI: 1, Gateways: []string{"10.244.0.1/16"}}
	for i, name := range []string{"pod1", "pod2", "pod3"} {
		host, m, ip := fmt.Sprintf("kv0000000000%d", i+1), mac(fmt.Sprintf("02:00:00:00:00:0%d", i+1)), fmt.Sprintf("10.244.0.%d", i+2)
		netns := newNS(t)
		l.pods[name] = netns
		port(t, host, "eth0")
		peer, err := netlink.LinkByName("eth0")
		must(t, err)
		must(t, netlink.LinkSetHardwareAddr(peer, m))
		must(t, netlink.LinkSetNsFd(peer, int(netns.Fd())))
		must(t, netns.Do(func(ns.NetNS) error {
			configure(t, "eth0", ip+"/16", "10.244.0.1")
			serve(t, name)
			return nil
		}))
		network.Ports = append(network.Ports, host)
		l.state.Guards = append(l.state.Guards, Guard{Port: host, MAC: m, IPs: []net.IP{net.ParseIP(ip)}})
	}
	l.state = State{FabricIP: net.IP(nodeIP.AsSlice()), FabricLink: "fabric0", VxlanPort: 4789, MTU: 1450,
		Networks: []Network{network}, Guards: l.state.Guards}
	return l
}

func newNS(t *testing.T) ns.NetNS {
	t.Helper()
	netns, err := testutils.NewNS()
	must(t, err)
	t.Cleanup(func() { _ = netns.Close(); _ = testutils.UnmountNS(netns) })
	return netns
}

// configure brings lo and dev up with addr, and a default route via gw.
func configure(t *testing.T, dev, addr, gw string) {
	t.Helper()
	lo, err := netlink.LinkByName("lo")
	must(t, err)
	must(t, netlink.LinkSetUp(lo))
	l, err := netlink.LinkByName(dev)
	must(t, err)
	a, err := netlink.ParseAddr(addr)
	must(t, err)
	a.Flags = unix.IFA_F_NODAD
	must(t, netlink.AddrAdd(l, a))
	must(t, netlink.LinkSetUp(l))
	if gw != "" {
		must(t, netlink.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Gw: net.ParseIP(gw)}))
	}
}

// serve answers name on TCP and UDP 8080 of the current namespace.
func serve(t *testing.T, name string) {
	t.Helper()
	tl, err := net.Listen("tcp", ":8080")
	must(t, err)
	ul, err := net.ListenPacket("udp", ":8080")
	must(t, err)
	t.Cleanup(func() { tl.Close(); ul.Close() })
	go func() {
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte(name))
			c.Close()
		}
	}()
	go func() {
		buf := make([]byte, 1500)
		for {
			_, from, err := ul.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = ul.WriteTo([]byte(name), from)
		}
	}()
}

// ask connects to addr (from local, when valid) in the current namespace
// and returns who answered, or the error.
func ask(network string, addr netip.AddrPort, local netip.Addr) (string, error) {
	d := net.Dialer{Timeout: time.Second}
	if local.IsValid() {
		if network == "tcp" {
			d.LocalAddr = &net.TCPAddr{IP: local.AsSlice()}
		} else {
			d.LocalAddr = &net.UDPAddr{IP: local.AsSlice()}
		}
	}
	c, err := d.Dial(network, addr.String())
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if network == "udp" {
		if _, err := c.Write([]byte("hostname")); err != nil {
			return "", err
		}
		buf := make([]byte, 100)
		n, err := c.Read(buf)
		return string(buf[:n]), err
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

// expect asserts who answers network addr from the current namespace
// ("" for nobody).
func (l *hostPortLab) expect(from, network string, addr netip.AddrPort, local netip.Addr, want string) {
	l.t.Helper()
	got, err := ask(network, addr, local)
	switch {
	case want == "" && err == nil:
		l.t.Errorf("from %s, %s %s answered %q, want no answer", from, network, addr, got)
	case want != "" && got != want:
		l.t.Errorf("from %s, %s %s (source %v): %q (%v), want %q\n%s", from, network, addr, local, got, err, want, nftList())
	}
}

// fromClient is expect from the client on the fabric.
func (l *hostPortLab) fromClient(network string, addr netip.AddrPort, want string) {
	l.t.Helper()
	must(l.t, l.client.Do(func(ns.NetNS) error {
		l.expect("the client", network, addr, netip.Addr{}, want)
		return nil
	}))
}

func nftList() string {
	out, _ := exec.Command("nft", "list", "ruleset").CombinedOutput()
	return string(out)
}

func hp(pod, port string, proto uint8, hostIP string, hostPort uint16, podIP string) HostPort {
	h := HostPort{Pod: "default/" + pod, Port: port, Protocol: proto, HostPort: hostPort, PodIP: netip.MustParseAddr(podIP), PodPort: 8080}
	if hostIP != "" {
		h.HostIP = netip.MustParseAddr(hostIP)
	}
	return h
}

func routeLocalnet(t *testing.T, dev string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/net/ipv4/conf/" + dev + "/route_localnet")
	must(t, err)
	return strings.TrimSpace(string(b))
}

// The conformance test "HostPort validates that there is no conflict
// between pods with same hostPort but different hostIP and protocol", on
// one node: three pods share port 54323, told apart by host IP and
// protocol, reached from the node (its loopback too) and from outside;
// then a pod's hairpin, a forward of every address, a duplicate, and the
// removal.
func TestHostPorts(t *testing.T) {
	inNewNS(t, func() {
		l := newHostPortLab(t)
		node := netip.AddrPortFrom(nodeIP, 54323)
		loopback := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 54323)
		l.state.HostPorts = []HostPort{
			hp("pod1", "kv00000000001", unix.IPPROTO_TCP, "127.0.0.1", 54323, "10.244.0.2"),
			hp("pod2", "kv00000000002", unix.IPPROTO_TCP, nodeIP.String(), 54323, "10.244.0.3"),
			hp("pod3", "kv00000000003", unix.IPPROTO_UDP, nodeIP.String(), 54323, "10.244.0.4"),
			// Every address of the node, another port.
			hp("pod1", "kv00000000001", unix.IPPROTO_TCP, "", 54400, "10.244.0.2"),
		}
		must(t, Reconcile(l.state))

		t.Log("the conformance test's three requests, from the node")
		l.expect("the node", "tcp", loopback, nodeIP, "pod1") // curl --interface <node IP> 127.0.0.1:54323
		l.expect("the node", "tcp", node, netip.Addr{}, "pod2")
		l.expect("the node", "udp", node, netip.Addr{}, "pod3")
		t.Log("from the node's loopback itself (masqueraded, route_localnet)")
		l.expect("the node", "tcp", loopback, netip.Addr{}, "pod1")
		if got := routeLocalnet(t, "kbr1"); got != "1" {
			t.Errorf("route_localnet of kbr1 = %s, want 1", got)
		}
		t.Log("from outside: the node's address, not its loopback; a host IP takes its address alone")
		l.fromClient("tcp", node, "pod2")
		l.fromClient("udp", node, "pod3")
		l.fromClient("tcp", netip.AddrPortFrom(nodeIP2, 54323), "")
		l.fromClient("udp", netip.AddrPortFrom(nodeIP2, 54323), "")
		t.Log("a forward of every address: both of the node's, and its loopback from the node")
		for _, addr := range []netip.Addr{nodeIP, nodeIP2} {
			l.fromClient("tcp", netip.AddrPortFrom(addr, 54400), "pod1")
			l.expect("the node", "tcp", netip.AddrPortFrom(addr, 54400), netip.Addr{}, "pod1")
		}
		l.expect("the node", "tcp", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 54400), netip.Addr{}, "pod1")
		l.fromClient("udp", netip.AddrPortFrom(nodeIP, 54400), "") // TCP alone
		t.Log("pods reach the host ports too: another pod's, and their own (hairpin)")
		must(t, l.pods["pod2"].Do(func(ns.NetNS) error {
			l.expect("pod2", "tcp", node, netip.Addr{}, "pod2")
			l.expect("pod2", "udp", node, netip.Addr{}, "pod3")
			l.expect("pod2", "tcp", netip.AddrPortFrom(nodeIP, 54400), netip.Addr{}, "pod1")
			return nil
		}))

		t.Log("a second forward of what a pod holds is refused, naming the holder; the holder keeps it")
		dup := l.state
		dup.HostPorts = append(slices.Clone(l.state.HostPorts),
			hp("pod3", "kv00000000003", unix.IPPROTO_TCP, nodeIP.String(), 54323, "10.244.0.4"),
			hp("pod3", "kv00000000003", unix.IPPROTO_TCP, "", 54400, "10.244.0.4"),
			hp("pod3", "kv00000000003", unix.IPPROTO_TCP, "", 54323, "10.244.0.4"))
		err := Reconcile(dup)
		for _, want := range []string{
			"host port tcp 192.168.100.1:54323 -> 10.244.0.4:8080 of pod default/pod3 is not programmed: pod default/pod2 (port kv00000000002) holds tcp 192.168.100.1:54323",
			"host port tcp *:54400 -> 10.244.0.4:8080 of pod default/pod3 is not programmed: pod default/pod1 (port kv00000000001) holds tcp *:54400",
			"host port tcp *:54323 -> 10.244.0.4:8080 of pod default/pod3 is not programmed: pod default/pod1",
		} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Reconcile with duplicates = %v, want it to say %q", err, want)
			}
		}
		if HostPortProblem(err, "kv00000000003") == nil || HostPortProblem(err, "kv00000000002") != nil {
			t.Errorf("the problem is pod3's alone: pod3 %v, pod2 %v", HostPortProblem(err, "kv00000000003"), HostPortProblem(err, "kv00000000002"))
		}
		l.fromClient("tcp", node, "pod2")
		l.fromClient("tcp", netip.AddrPortFrom(nodeIP, 54400), "pod1")
		l.fromClient("udp", node, "pod3") // pod3's UDP forward stays

		t.Log("UDP sent to a host port before its forward existed goes to the pod once it does (stale conntrack)")
		stale := netip.AddrPortFrom(nodeIP, 54500)
		must(t, l.client.Do(func(ns.NetNS) error {
			c, err := net.DialUDP("udp", &net.UDPAddr{Port: 40500}, net.UDPAddrFromAddrPort(stale))
			if err != nil {
				return err
			}
			_, err = c.Write([]byte("early"))
			c.Close()
			return err
		}))
		time.Sleep(100 * time.Millisecond)
		l.state.HostPorts = append(l.state.HostPorts, hp("pod3", "kv00000000003", unix.IPPROTO_UDP, "", 54500, "10.244.0.4"))
		must(t, Reconcile(l.state))
		must(t, l.client.Do(func(ns.NetNS) error {
			// The same source port: the flow of the early datagram.
			c, err := net.DialUDP("udp", &net.UDPAddr{Port: 40500}, net.UDPAddrFromAddrPort(stale))
			if err != nil {
				return err
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(time.Second))
			if _, err := c.Write([]byte("hostname")); err != nil {
				return err
			}
			buf := make([]byte, 100)
			n, err := c.Read(buf)
			if got := string(buf[:n]); err != nil || got != "pod3" {
				t.Errorf("UDP from the early flow's source port: %q (%v), want pod3", got, err)
			}
			return nil
		}))

		t.Log("a pod's port that is not attached has no forward; a forward whose port went is gone")
		gone := l.state
		gone.Networks = []Network{{Name: "pods", VNI: 1, Gateways: l.state.Networks[0].Gateways, Ports: []string{"kv00000000001", "kv00000000003"}}}
		gone.Keep = []string{"kv00000000002"} // its link stays, on no network of the state
		must(t, Reconcile(gone))
		l.fromClient("tcp", node, "")
		l.fromClient("udp", node, "pod3")
		for _, r := range hostPortRules() {
			if strings.Contains(r, "pod2") {
				t.Errorf("a rule of pod2, whose port is not attached: %s", r)
			}
		}
		must(t, Reconcile(l.state))

		t.Log("no host port left: the tables go, and route_localnet with them")
		l.state.HostPorts = nil
		must(t, Reconcile(l.state))
		l.fromClient("tcp", node, "")
		l.fromClient("udp", node, "")
		l.expect("the node", "tcp", loopback, nodeIP, "")
		if rules := hostPortRules(); len(rules) != 0 {
			t.Errorf("host port rules left: %v", rules)
		}
		if out := nftList(); strings.Contains(out, HostPortTable) {
			t.Errorf("a host port table is left:\n%s", out)
		}
		if got := routeLocalnet(t, "kbr1"); got != "0" {
			t.Errorf("route_localnet of kbr1 = %s with no host port, want 0", got)
		}
	})
}

// With route_localnet on, the pod network's bridge routes 127.0.0.0/8: a
// pod that sends to its gateway's MAC a packet for 127.0.0.1 would reach
// the node's loopback services (CVE-2020-8558). The input guard drops it;
// without it, it gets through (the attack works in this lab).
func TestHostPortsKeepPodsOffTheNodesLoopback(t *testing.T) {
	inNewNS(t, func() {
		l := newHostPortLab(t)
		l.state.HostPorts = []HostPort{hp("pod1", "kv00000000001", unix.IPPROTO_TCP, "127.0.0.1", 54323, "10.244.0.2")}
		must(t, Reconcile(l.state))
		service, err := net.ListenPacket("udp", "127.0.0.1:5353") // the node's loopback-only service
		must(t, err)
		defer service.Close()
		attack := func() string {
			must(t, l.pods["pod2"].Do(func(ns.NetNS) error {
				sendToGateway(t, "eth0", mac("02:00:00:00:00:02"), GatewayMAC(1), netip.MustParseAddr("10.244.0.3"),
					netip.MustParseAddr("127.0.0.1"), 5353, []byte("attack"))
				return nil
			}))
			_ = service.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			buf := make([]byte, 100)
			n, _, err := service.ReadFrom(buf)
			if err != nil {
				return ""
			}
			return string(buf[:n])
		}
		if got := attack(); got != "" {
			t.Errorf("a pod reached the node's 127.0.0.1:5353 (%q) with the guard on", got)
		}
		t.Log("the guard off: the same packet gets through, so the test can see it")
		c, err := nftables.New()
		must(t, err)
		c.FlushChain(&nftables.Chain{Name: "input", Table: &nftables.Table{Family: nftables.TableFamilyIPv4, Name: HostPortTable}})
		must(t, c.Flush())
		if got := attack(); got != "attack" {
			t.Errorf("with the guard off, the attack got %q, want it through: the test proves nothing", got)
		}
		must(t, Reconcile(l.state))
		if got := attack(); got != "" {
			t.Errorf("after the reconcile put the guard back, a pod reached the node's loopback (%q)", got)
		}
	})
}

// sendToGateway sends one UDP datagram, built by hand, out of dev.
func sendToGateway(t *testing.T, dev string, src, dst net.HardwareAddr, from, to netip.Addr, port uint16, payload []byte) {
	t.Helper()
	l, err := netlink.LinkByName(dev)
	must(t, err)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
	must(t, err)
	defer unix.Close(fd)
	udp := binary.BigEndian.AppendUint16(nil, 40000)
	udp = binary.BigEndian.AppendUint16(udp, port)
	udp = binary.BigEndian.AppendUint16(udp, uint16(8+len(payload)))
	udp = append(binary.BigEndian.AppendUint16(udp, 0), payload...) // no checksum
	ip := []byte{0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, unix.IPPROTO_UDP, 0, 0}
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(udp)))
	ip = append(append(ip, from.AsSlice()...), to.AsSlice()...)
	var sum uint32
	for i := 0; i < len(ip); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	frame := slices.Concat([]byte(dst), []byte(src), []byte{0x08, 0x00}, ip, udp)
	addr := &unix.SockaddrLinklayer{Ifindex: l.Attrs().Index, Protocol: 0x0008, Halen: 6}
	copy(addr.Addr[:], dst)
	if err := unix.Sendto(fd, frame, 0, addr); err != nil {
		t.Fatal(errors.Join(errors.New("send"), err))
	}
}

// IPv6: a forward of one of the node's IPv6 addresses, and of ::1 from a
// source of the node (the conformance test's form on an IPv6 cluster:
// IPv6 has no route_localnet, so the test sends from the node's address).
func TestHostPortsIPv6(t *testing.T) {
	inNewNS(t, func() {
		node6, client6 := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
		fabric(t, "192.168.100.1/24")
		fab, err := netlink.LinkByName("fabric0")
		must(t, err)
		a, _ := netlink.ParseAddr(node6.String() + "/64")
		a.Flags = unix.IFA_F_NODAD
		must(t, netlink.AddrAdd(fab, a))
		lo, err := netlink.LinkByName("lo")
		must(t, err)
		must(t, netlink.LinkSetUp(lo))
		client := newNS(t)
		peer, err := netlink.LinkByName("fabric0p")
		must(t, err)
		must(t, netlink.LinkSetNsFd(peer, int(client.Fd())))
		must(t, client.Do(func(ns.NetNS) error {
			configure(t, "fabric0p", client6.String()+"/64", "")
			return nil
		}))
		pod := newNS(t)
		port(t, "kv00000000001", "eth0")
		eth0, err := netlink.LinkByName("eth0")
		must(t, err)
		must(t, netlink.LinkSetHardwareAddr(eth0, mac("02:00:00:00:00:01")))
		must(t, netlink.LinkSetNsFd(eth0, int(pod.Fd())))
		must(t, pod.Do(func(ns.NetNS) error {
			configure(t, "eth0", "fd00:10::3/64", "fd00:10::1")
			serve(t, "pod1")
			return nil
		}))
		state := State{FabricIP: net.ParseIP("192.168.100.1"), FabricLink: "fabric0", VxlanPort: 4789, MTU: 1450,
			Networks: []Network{{Name: "pods", VNI: 1, Gateways: []string{"fd00:10::1/64"}, Ports: []string{"kv00000000001"}}},
			Guards:   []Guard{{Port: "kv00000000001", MAC: mac("02:00:00:00:00:01"), IPs: []net.IP{net.ParseIP("fd00:10::3")}}},
			HostPorts: []HostPort{hp("pod1", "kv00000000001", unix.IPPROTO_TCP, node6.String(), 54323, "fd00:10::3"),
				hp("pod1", "kv00000000001", unix.IPPROTO_UDP, "::1", 54323, "fd00:10::3")}}
		must(t, Reconcile(state))
		// The bridge's gateway answers the pod once its duplicate address
		// detection is over.
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			addrs, err := netlink.AddrList(must2(netlink.LinkByName("kbr1")), netlink.FAMILY_V6)
			must(t, err)
			if !slices.ContainsFunc(addrs, func(a netlink.Addr) bool { return a.Flags&unix.IFA_F_TENTATIVE != 0 }) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("kbr1's addresses stay tentative: %v", addrs)
			}
		}
		l := &hostPortLab{t: t, client: client}
		l.fromClient("tcp", netip.AddrPortFrom(node6, 54323), "pod1")
		l.fromClient("udp", netip.AddrPortFrom(node6, 54323), "")
		l.expect("the node", "tcp", netip.AddrPortFrom(node6, 54323), netip.Addr{}, "pod1")
		l.expect("the node", "udp", netip.AddrPortFrom(netip.IPv6Loopback(), 54323), node6, "pod1")
		if rules := hostPortRules(); len(rules) != 2 {
			t.Errorf("IPv6 host port rules = %v, want 2", rules)
		}
		state.HostPorts = nil
		must(t, Reconcile(state))
		l.fromClient("tcp", netip.AddrPortFrom(node6, 54323), "")
		if out := nftList(); strings.Contains(out, HostPortTable) {
			t.Errorf("a host port table is left:\n%s", out)
		}
	})
}
