// Package plugin is contrail-k8s-cni: the single, non-delegating CNI
// plugin that plugs every interface of a pod (eth0 on the pod network,
// eth1... per NetworkAttachmentDefinition) as the vrouter agent describes
// them, and reports their host ends to the agent.
package plugin

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/kontrail/kontrail/cni/agentapi"
)

// NetConf is the plugin's configuration in the conflist the agent writes.
type NetConf struct {
	types.NetConf
	// SocketDir holds the agents' sockets (agentapi.DefaultSocketDir):
	// the plugin talks to its network namespace's (agentapi.SocketPath).
	SocketDir string `json:"socketDir,omitempty"`
	// Socket, when set, is the agent's socket itself.
	Socket string `json:"socket,omitempty"`
	// ClusterName of the Kontrail cluster (informational).
	ClusterName string `json:"clusterName,omitempty"`
	// MTU of the pod interfaces when the agent says none.
	MTU int `json:"mtu,omitempty"`
	// AllocationTimeout bounds the wait for the controller's allocation.
	AllocationTimeout string `json:"allocationTimeout,omitempty"`
	// RuntimeConfig is what the runtime passes for the capabilities the
	// conflist advertises: portMappings (Kubernetes hostPort).
	RuntimeConfig struct {
		PortMappings []PortMapping `json:"portMappings,omitempty"`
	} `json:"runtimeConfig,omitzero"`
}

// PortMapping is one element of runtimeConfig.portMappings, as the CNI
// conventions (and the reference portmap plugin) define it; containerd
// fills it from the pod's container ports that have a hostPort.
type PortMapping struct {
	HostPort      int    `json:"hostPort"`
	ContainerPort int    `json:"containerPort"`
	Protocol      string `json:"protocol"`
	HostIP        string `json:"hostIP,omitempty"`
}

// hostPorts validates the runtime's port mappings of an interface with
// addresses ips and turns them into the agent's typed forwards. Ports are
// 1-65535; the protocol tcp, udp or sctp in any case (empty is tcp, as in
// Kubernetes); the host IP an address or empty (every address of the node).
func hostPorts(mappings []PortMapping, ips []netip.Addr) ([]agentapi.HostPort, error) {
	invalid := func(i int, format string, args ...any) error {
		m := mappings[i]
		return types.NewError(types.ErrInvalidNetworkConfig,
			fmt.Sprintf("contrail-k8s-cni: runtimeConfig.portMappings[%d] (hostPort %d, containerPort %d, protocol %q, hostIP %q): ",
				i, m.HostPort, m.ContainerPort, m.Protocol, m.HostIP)+fmt.Sprintf(format, args...), "")
	}
	out := make([]agentapi.HostPort, 0, len(mappings))
	for i, m := range mappings {
		if m.HostPort < 1 || m.HostPort > 65535 {
			return nil, invalid(i, "the host port is not in 1-65535")
		}
		if m.ContainerPort < 1 || m.ContainerPort > 65535 {
			return nil, invalid(i, "the container port is not in 1-65535")
		}
		proto, err := agentapi.ParseProtocol(m.Protocol)
		if err != nil {
			return nil, invalid(i, "%v", err)
		}
		hp := agentapi.HostPort{HostPort: uint16(m.HostPort), ContainerPort: uint16(m.ContainerPort), Protocol: proto}
		if m.HostIP != "" {
			if hp.HostIP, err = netip.ParseAddr(m.HostIP); err != nil {
				return nil, invalid(i, "the host IP is not an IP address")
			}
			hp.HostIP = hp.HostIP.Unmap()
		}
		out = append(out, hp)
	}
	if err := agentapi.CheckHostPorts(out, ips); err != nil {
		return nil, types.NewError(types.ErrInvalidNetworkConfig, "contrail-k8s-cni: runtimeConfig.portMappings: "+err.Error(), "")
	}
	return out, nil
}

func parseConf(stdin []byte) (*NetConf, time.Duration, error) {
	conf := &NetConf{}
	if err := json.Unmarshal(stdin, conf); err != nil {
		return nil, 0, types.NewError(types.ErrDecodingFailure, "contrail-k8s-cni: the network configuration on stdin is not JSON", err.Error())
	}
	if conf.CNIVersion == "" {
		return nil, 0, types.NewError(types.ErrInvalidNetworkConfig, "contrail-k8s-cni: the network configuration has no cniVersion", "")
	}
	if conf.Socket == "" {
		dir := conf.SocketDir
		if dir == "" {
			dir = agentapi.DefaultSocketDir
		}
		socket, err := agentapi.SocketPath(dir)
		if err != nil {
			return nil, 0, types.NewError(types.ErrIOFailure, "contrail-k8s-cni: cannot name the vrouter agent's socket", err.Error())
		}
		conf.Socket = socket
	}
	wait := 60 * time.Second
	if conf.AllocationTimeout != "" {
		d, err := time.ParseDuration(conf.AllocationTimeout)
		if err != nil || d <= 0 {
			return nil, 0, types.NewError(types.ErrInvalidNetworkConfig, fmt.Sprintf("contrail-k8s-cni: allocationTimeout %q is not a positive duration", conf.AllocationTimeout), "")
		}
		wait = d
	}
	return conf, wait, nil
}

// podArgs are the K8S_POD_* arguments the runtime passes in CNI_ARGS.
type podArgs struct {
	types.CommonArgs
	K8S_POD_NAMESPACE          types.UnmarshallableString //nolint:revive,staticcheck // the CNI_ARGS names
	K8S_POD_NAME               types.UnmarshallableString //nolint:revive,staticcheck
	K8S_POD_UID                types.UnmarshallableString //nolint:revive,staticcheck
	K8S_POD_INFRA_CONTAINER_ID types.UnmarshallableString //nolint:revive,staticcheck
}

func parseArgs(args string) (*podArgs, error) {
	a := &podArgs{}
	a.IgnoreUnknown = true
	if err := types.LoadArgs(args, a); err != nil {
		return nil, types.NewError(types.ErrInvalidEnvironmentVariables, "contrail-k8s-cni: CNI_ARGS do not parse", err.Error())
	}
	if a.K8S_POD_NAMESPACE == "" || a.K8S_POD_NAME == "" {
		return nil, types.NewError(types.ErrInvalidEnvironmentVariables,
			"contrail-k8s-cni: CNI_ARGS lack K8S_POD_NAMESPACE or K8S_POD_NAME: the plugin plugs Kubernetes pods only", args)
	}
	return a, nil
}

// cniError turns an agent or plumbing error into a CNI error result with
// a code the runtime understands and a message a person can act on.
func cniError(what string, err error) error {
	switch e := err.(type) {
	case *types.Error:
		return e
	case *agentapi.UnreachableError:
		return types.NewError(types.ErrTryAgainLater, "contrail-k8s-cni: "+what+": "+e.Error(), "")
	case *agentapi.Error:
		return types.NewError(e.Code, "contrail-k8s-cni: "+what+": "+e.Message, e.Details)
	default:
		return types.NewError(types.ErrInternal, "contrail-k8s-cni: "+what+": "+err.Error(), "")
	}
}

// hostIfName names a port's host end (agentapi.HostIfName).
func hostIfName(containerID, ifName string) string { return agentapi.HostIfName(containerID, ifName) }
