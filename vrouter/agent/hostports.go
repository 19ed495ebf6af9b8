package agent

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"

	"github.com/kontrail/kontrail/cni/agentapi"
	"github.com/kontrail/kontrail/vrouter/dataplane"
)

// Host ports (Kubernetes hostPort): the plugin reports the runtime's port
// mappings on the pod's eth0; the agent accepts them only as the pod's
// spec declares them, on the pod network (the network the node routes),
// and not when another pod of the node holds one (PortStore.Add); the
// dataplane forwards them (dataplane/hostport.go) before the ADD answers.

// specHostPorts are the forwards the kubelet asks the runtime for: every
// port of the pod's containers (not its init containers) with a hostPort,
// as containerd passes them to CNI (protocol in lower case, TCP by
// default).
func specHostPorts(pod *corev1.Pod) []agentapi.HostPort {
	var out []agentapi.HostPort
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort <= 0 || p.HostPort > 65535 || p.ContainerPort <= 0 || p.ContainerPort > 65535 {
				continue
			}
			proto, err := agentapi.ParseProtocol(string(p.Protocol))
			if err != nil {
				continue
			}
			h := agentapi.HostPort{HostPort: uint16(p.HostPort), ContainerPort: uint16(p.ContainerPort), Protocol: proto}
			if p.HostIP != "" {
				ip, err := netip.ParseAddr(p.HostIP)
				if err != nil {
					continue
				}
				h.HostIP = ip.Unmap()
			}
			out = append(out, h)
		}
	}
	return out
}

// undeclaredHostPort says which of a port's host ports the pod does not
// declare, or "" when it declares them all.
func undeclaredHostPort(p agentapi.Port, pod *corev1.Pod) string {
	declared := specHostPorts(pod)
	for _, h := range p.HostPorts {
		if !slices.Contains(declared, h) {
			var names []string
			for _, d := range declared {
				names = append(names, d.String())
			}
			return fmt.Sprintf("host port %s is not one of the pod's container ports (it declares [%s])", h, strings.Join(names, ", "))
		}
	}
	return ""
}

// checkHostPorts says why the agent cannot forward a port's host ports:
// they are not on the pod network, or are invalid for its addresses.
func (a *Agent) checkHostPorts(p agentapi.Port) *agentapi.Error {
	if len(p.HostPorts) == 0 {
		return nil
	}
	if pod := a.cfg.PodNetworkName(); p.Network != pod {
		return &agentapi.Error{Code: agentapi.CodeInvalidConfig, Message: fmt.Sprintf(
			"interface %s of pod %s/%s is on network %s: host ports are forwarded to the pod network %s alone (the network the node routes)",
			p.IfName, p.PodNamespace, p.PodName, p.Network, pod)}
	}
	if err := agentapi.CheckHostPorts(p.HostPorts, portAddrs(p)); err != nil {
		return &agentapi.Error{Code: agentapi.CodeInvalidConfig, Message: fmt.Sprintf("interface %s of pod %s/%s: %v", p.IfName, p.PodNamespace, p.PodName, err)}
	}
	return nil
}

func portAddrs(p agentapi.Port) []netip.Addr {
	var out []netip.Addr
	for _, s := range p.IPs {
		if ip, err := netip.ParseAddr(s); err == nil {
			out = append(out, ip.Unmap())
		}
	}
	return out
}

// forwards are the dataplane's forwards of a port's host ports: one per
// address of the port of the host port's family (a host port of every
// address goes to both of a dual-stack pod's).
func forwards(p agentapi.Port) []dataplane.HostPort {
	var out []dataplane.HostPort
	for _, h := range p.HostPorts {
		proto, ok := ipProtocols[h.Protocol]
		if !ok {
			continue
		}
		for _, ip := range portAddrs(p) {
			if !h.AppliesTo(ip.Is4()) {
				continue
			}
			out = append(out, dataplane.HostPort{Port: p.HostIfName, Pod: p.PodNamespace + "/" + p.PodName, Protocol: proto,
				HostIP: h.HostIP, HostPort: h.HostPort, PodIP: ip, PodPort: h.ContainerPort})
		}
	}
	return out
}

var ipProtocols = map[agentapi.Protocol]uint8{agentapi.ProtocolTCP: unix.IPPROTO_TCP, agentapi.ProtocolUDP: unix.IPPROTO_UDP,
	agentapi.ProtocolSCTP: unix.IPPROTO_SCTP}
