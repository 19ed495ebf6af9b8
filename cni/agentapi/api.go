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
