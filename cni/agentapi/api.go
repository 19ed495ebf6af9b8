// Package agentapi is the versioned JSON API between the contrail-k8s-cni
// plugin and the vrouter agent on the same node: HTTP over a unix socket
// (abstract by default, so that it is scoped to the node's network
// namespace). The plugin asks for a pod's interfaces, plugs them, and
// reports the host ends; the agent attaches them to the dataplane.
package agentapi

import (
	"fmt"
	"hash/fnv"
	"net/http"
	"net/netip"
	"strings"
)

// Version is the API's path prefix; a change that breaks old plugins gets
// a new one, and the agent serves both while nodes roll.
const Version = "v1"

// Paths of the API.
const (
	PathInterfaces = "/" + Version + "/interfaces" // POST InterfacesRequest -> Interfaces
	PathPorts      = "/" + Version + "/ports"      // POST AddPorts; GET -> Ports; DELETE ?containerID=
	PathReady      = "/" + Version + "/ready"      // GET -> Ready
)

// InterfacesRequest names a pod by the K8S_POD_* CNI arguments.
type InterfacesRequest struct {
	PodNamespace string `json:"podNamespace"`
	PodName      string `json:"podName"`
	// PodUID, when the runtime passes K8S_POD_UID, tells a recreated pod
	// of the same name from the old one.
	PodUID      string `json:"podUID,omitempty"`
	ContainerID string `json:"containerID"`
	// WaitSeconds bounds how long the agent waits for the controller to
	// allocate the interfaces.
	WaitSeconds int `json:"waitSeconds"`
}

// Interfaces are what the pod must get, in order: eth0 first.
type Interfaces struct {
	PodUID     string      `json:"podUID"`
	Interfaces []Interface `json:"interfaces"`
}

// Interface is one pod interface, as the pod's VirtualMachineInterface and
// InstanceIPs describe it.
type Interface struct {
	// Name inside the pod: eth0, eth1...
	Name string `json:"name"`
	// VMI is the VirtualMachineInterface's namespace/name.
	VMI string `json:"vmi"`
	// Network is the VirtualNetwork's namespace/name.
	Network string `json:"network"`
	MAC     string `json:"mac"`
	MTU     int    `json:"mtu"`
	// IPs in CIDR form (10.244.0.3/16) with their gateways.
	IPs []IP `json:"ips"`
	// DefaultRoute: the pod's default route goes through this interface's
	// gateway (only one interface has it).
	DefaultRoute bool `json:"defaultRoute"`
}

// IP is an address of an interface.
type IP struct {
	Address string `json:"address"`
	Gateway string `json:"gateway,omitempty"`
}

// Port is a plugged interface: its host end, as the plugin reports it.
type Port struct {
	ContainerID  string `json:"containerID"`
	IfName       string `json:"ifName"`
	HostIfName   string `json:"hostIfName"`
	Netns        string `json:"netns"`
	MAC          string `json:"mac"`
	VMI          string `json:"vmi"`
	Network      string `json:"network"`
	PodNamespace string `json:"podNamespace"`
	PodName      string `json:"podName"`
	PodUID       string `json:"podUID"`
	// IPs are the addresses, without prefix.
	IPs []string `json:"ips"`
	// HostPorts forward ports of the node to this interface (Kubernetes
	// hostPort: the runtime's portMappings capability); the pod's eth0,
	// on the pod network, alone has them.
	HostPorts []HostPort `json:"hostPorts,omitempty"`
}

// AddPorts reports the ports of one container.
type AddPorts struct {
	Ports []Port `json:"ports"`
}

// Ports lists ports.
type Ports struct {
	Ports []Port `json:"ports"`
}

// Ready says whether the agent can plug pods.
type Ready struct {
	Ready  bool   `json:"ready"`
	Reason string `json:"reason,omitempty"`
}

// Error is the body of every non-2xx answer.
type Error struct {
	// Code is a CNI error code the plugin returns as is.
	Code    uint   `json:"code"`
	Message string `json:"message"`
	Details string `json:"details,omitempty"`
	// Retry says the problem may go by itself (kubemanager tries again):
	// the agent waits a little before it answers with it.
	Retry bool `json:"retry,omitempty"`
}

// CNI error codes the agent answers with (CNI spec, "Error codes").
const (
	CodeUnknownContainer = 3   // the pod is unknown: nothing to clean up
	CodeInvalidConfig    = 7   // the network configuration is invalid
	CodeTryAgainLater    = 11  // allocation not done yet, agent not ready
	CodeForbidden        = 100 // the caller is not root, or asks for what is not its pod's
	CodeHostPortTaken    = 101 // a host port of the pod is another pod's on the node
	CodeInternal         = 999
)

// StatusFor maps an error code to the HTTP status the agent answers with.
func StatusFor(code uint) int {
	switch code {
	case CodeUnknownContainer:
		return http.StatusNotFound
	case CodeInvalidConfig:
		return http.StatusBadRequest
	case CodeTryAgainLater:
		return http.StatusServiceUnavailable
	case CodeForbidden:
		return http.StatusForbidden
	case CodeHostPortTaken:
		return http.StatusConflict
	default:
		return http.StatusInternalServerError
	}
}

// HostIfName names a port's host end after its container and pod
// interface ("kv" + 11 hex digits), so that the plugin's DEL and GC find it
// without the agent, and the agent knows it before the plugin makes it.
func HostIfName(containerID, ifName string) string {
	h := fnv.New64a()
	h.Write([]byte(containerID + "/" + ifName))
	return "kv" + fmt.Sprintf("%016x", h.Sum64())[:11]
}

// Protocol is a host port's transport protocol.
type Protocol string

// The protocols of Kubernetes' container ports, as the runtime's
// portMappings name them.
const (
	ProtocolTCP  Protocol = "tcp"
	ProtocolUDP  Protocol = "udp"
	ProtocolSCTP Protocol = "sctp"
)

// ParseProtocol reads a protocol in any case ("TCP", "udp"); empty is TCP,
// Kubernetes' default.
func ParseProtocol(s string) (Protocol, error) {
	switch p := Protocol(strings.ToLower(s)); p {
	case "":
		return ProtocolTCP, nil
	case ProtocolTCP, ProtocolUDP, ProtocolSCTP:
		return p, nil
	default:
		return "", fmt.Errorf("protocol %q is not tcp, udp or sctp", s)
	}
}

// HostPort forwards a port of the node to a port of the pod: a container
// port's hostPort, as the runtime passes it (CNI portMappings).
type HostPort struct {
	HostPort      uint16   `json:"hostPort"`
	ContainerPort uint16   `json:"containerPort"`
	Protocol      Protocol `json:"protocol"`
	// HostIP restricts the forward to traffic for this address of the
	// node; none means every address of the node, of both families; an
	// unspecified address (0.0.0.0, ::) every address of its family.
	HostIP netip.Addr `json:"hostIP,omitzero"`
}

// AnyHostIP says whether the forward takes every address of the node (of
// the families it applies to).
func (h HostPort) AnyHostIP() bool { return !h.HostIP.IsValid() || h.HostIP.IsUnspecified() }

// AppliesTo says whether the forward applies to IPv4 (v4) or IPv6 traffic.
func (h HostPort) AppliesTo(v4 bool) bool { return !h.HostIP.IsValid() || h.HostIP.Is4() == v4 }

// String is the forward as a person reads it: "tcp 127.0.0.1:54323 -> 8080".
func (h HostPort) String() string {
	host := "*"
	if h.HostIP.IsValid() {
		host = h.HostIP.String()
		if h.HostIP.Is6() {
			host = "[" + host + "]"
		}
	}
	return fmt.Sprintf("%s %s:%d -> %d", h.Protocol, host, h.HostPort, h.ContainerPort)
}

// Validate says what makes h unusable: a port out of 1-65535, another
// protocol than tcp, udp and sctp, a host address with a zone or an
// IPv4-mapped IPv6 one.
func (h HostPort) Validate() error {
	switch {
	case h.HostPort == 0:
		return fmt.Errorf("host port %s: the host port is 0, not in 1-65535", h)
	case h.ContainerPort == 0:
		return fmt.Errorf("host port %s: the container port is 0, not in 1-65535", h)
	case h.Protocol != ProtocolTCP && h.Protocol != ProtocolUDP && h.Protocol != ProtocolSCTP:
		return fmt.Errorf("host port %s: protocol %q is not tcp, udp or sctp", h, h.Protocol)
	case h.HostIP.Zone() != "":
		return fmt.Errorf("host port %s: a host IP with a zone is not supported", h)
	case h.HostIP.Is4In6():
		return fmt.Errorf("host port %s: the host IP is an IPv4-mapped IPv6 address: give the IPv4 address", h)
	}
	return nil
}

// Overlaps says whether h and o claim some of the same traffic: the same
// protocol and host port, for the same address, or every address, of a
// family both apply to (as the scheduler's host port check, where 0.0.0.0
// clashes with every address).
func (h HostPort) Overlaps(o HostPort) bool {
	if h.Protocol != o.Protocol || h.HostPort != o.HostPort {
		return false
	}
	for _, v4 := range []bool{true, false} {
		if h.AppliesTo(v4) && o.AppliesTo(v4) && (h.AnyHostIP() || o.AnyHostIP() || h.HostIP == o.HostIP) {
			return true
		}
	}
	return false
}

// CheckHostPorts says why a pod interface with addresses ips cannot have
// the forwards hps: one is invalid, two of them claim the same host
// address, port and protocol, or one's host IP is of a family the
// interface has no address of (the node would forward to nothing).
func CheckHostPorts(hps []HostPort, ips []netip.Addr) error {
	var v4, v6 bool
	for _, ip := range ips {
		if ip.Unmap().Is4() {
			v4 = true
		} else {
			v6 = true
		}
	}
	for i, h := range hps {
		if err := h.Validate(); err != nil {
			return err
		}
		for _, o := range hps[:i] {
			if h.Protocol == o.Protocol && h.HostPort == o.HostPort && h.HostIP == o.HostIP {
				return fmt.Errorf("host port %s: given twice", h)
			}
		}
		switch {
		case !h.HostIP.IsValid():
			if !v4 && !v6 {
				return fmt.Errorf("host port %s: the interface has no address to forward to", h)
			}
		case h.HostIP.Is4() && !v4:
			return fmt.Errorf("host port %s: the host IP is IPv4 but the interface has no IPv4 address", h)
		case h.HostIP.Is6() && !v6:
			return fmt.Errorf("host port %s: the host IP is IPv6 but the interface has no IPv6 address", h)
		}
	}
	return nil
}
