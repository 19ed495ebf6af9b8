// Package agent is the vrouter agent's node-local logic: its configuration,
// and (issue 6) the dataplane programming and the CNI socket.
package agent

import (
	"github.com/kontrail/kontrail/cni/agentapi"

	"flag"
	"os"
)

// Config is what the agent takes from its flags. The operator renders these
// flags from a Vrouter resource (operator/controller/dataplane); their names
// are the contract between the two.
type Config struct {
	// NodeName is the node the agent runs on; its VirtualRouter's name.
	NodeName string
	// FabricInterface carries the overlay; empty means the interface of the
	// node's InternalIP.
	FabricInterface string
	// VxlanPort is the overlay's UDP port.
	VxlanPort int
	// InstallCNI copies the plugin into CNIBinDir and writes the conflist into CNIConfDir.
	InstallCNI bool
	CNIBinDir  string
	CNIConfDir string
	// CNIClusterName names the cluster in the conflist.
	CNIClusterName string
	// CNIMTU is the MTU of pod interfaces; 0 derives it from the fabric's.
	CNIMTU int
	// SocketDir is the root-only directory of the CNI plugin's socket: the
	// agent serves on its network namespace's socket there
	// (agentapi.SocketPath), the plugin finds it the same way.
	SocketDir string
	// StateDir keeps the ports across agent restarts, under a directory
	// per node (nodes of the lab share one filesystem).
	StateDir string
	// CNIBinary is the plugin the agent installs (it ships in the agent's image).
	CNIBinary string
	// CNILoopbackBinary is the reference loopback plugin, installed when the
	// node has none: containerd's CRI brings up every sandbox's lo with it.
	CNILoopbackBinary string
	// CNIVersion is the conflist's cniVersion, which the runtime's libcni
	// must support: containerd 1.6 and 1.7 stop at 1.0.0; 1.1.0 adds STATUS and GC.
	CNIVersion string
	// PodNetwork is the cluster's default pod network (namespace/name),
	// whose gateway the node holds so that it reaches its pods; empty
	// derives it from CNIClusterName as kubemanager names it.
	PodNetwork string
	// ResyncSeconds is how often the dataplane is reconciled without a change.
	ResyncSeconds int
	// IdleNetworkSeconds keeps a network's bridge and VXLAN device that
	// long after its last pod on the node left: recreating them costs
	// ~50 ms each (the kernel's netdev teardown), and pods come back (a
	// rollout, a restarted sandbox).
	IdleNetworkSeconds int
}

// PodNetworkName is the default pod network's namespace/name.
func (c *Config) PodNetworkName() string {
	if c.PodNetwork != "" {
		return c.PodNetwork
	}
	return c.CNIClusterName + "-contrail/default-podnetwork"
}

// BindFlags registers the agent's flags on fs.
func (c *Config) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.NodeName, "node-name", os.Getenv("NODE_NAME"), "Name of the node the agent runs on (default $NODE_NAME).")
	fs.StringVar(&c.FabricInterface, "fabric-interface", "", "Interface that carries the overlay; empty means the interface of the node's InternalIP.")
	fs.IntVar(&c.VxlanPort, "vxlan-port", 4789, "UDP port of the VXLAN overlay.")
	fs.BoolVar(&c.InstallCNI, "install-cni", true, "Install the CNI plugin and its conflist on the node.")
	fs.StringVar(&c.CNIBinDir, "cni-bin-dir", "/opt/cni/bin", "The node's CNI plugin directory.")
	fs.StringVar(&c.CNIConfDir, "cni-conf-dir", "/etc/cni/net.d", "The node's CNI configuration directory.")
	fs.StringVar(&c.CNIClusterName, "cni-cluster-name", "", "Cluster name written into the CNI conflist.")
	fs.IntVar(&c.CNIMTU, "cni-mtu", 0, "MTU of the pods' interfaces; 0 derives it from the fabric interface's.")
	fs.StringVar(&c.StateDir, "state-dir", "/var/run/kontrail/vrouter", "Directory of the agent's state (a subdirectory per node).")
	fs.StringVar(&c.CNIBinary, "cni-binary", "/contrail-k8s-cni", "The CNI plugin binary to install.")
	fs.StringVar(&c.CNILoopbackBinary, "cni-loopback-binary", "/loopback", "The loopback plugin to install when the CNI bin dir has none; empty installs none.")
	fs.StringVar(&c.CNIVersion, "cni-version", "1.0.0", "cniVersion of the conflist: 1.0.0 for containerd 1.6/1.7, 1.1.0 adds STATUS and GC.")
	fs.StringVar(&c.PodNetwork, "pod-network", "", "The default pod network as namespace/name (default <cni-cluster-name>-contrail/default-podnetwork).")
	fs.IntVar(&c.IdleNetworkSeconds, "idle-network-seconds", 120, "Seconds a network's devices stay on the node after its last pod left.")
	fs.IntVar(&c.ResyncSeconds, "resync-seconds", 30, "Seconds between reconciles of the dataplane when nothing changes.")
	fs.StringVar(&c.SocketDir, "socket-dir", agentapi.DefaultSocketDir, "Directory of the CNI plugin's socket, made root's alone (0700); the socket is named after the node's network namespace.")
}
