// Package nodes makes "nodes" for the dataplane suite: network namespaces
// joined by a fabric link, each running a real vrouter agent process that
// reaches the suite's kube-apiserver through a forwarder inside the node.
package nodes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/kontrail/kontrail/cni/agentapi"
)

// Node is a network namespace that plays a Kubernetes node.
type Node struct {
	Name     string
	NS       ns.NetNS
	FabricIP string
	// Dir holds the node's CNI bin and conf dirs, agent state and log.
	Dir     string
	BinDir  string
	ConfDir string

	agent    *exec.Cmd
	agentLog *os.File
	listener net.Listener
}

// Fabric makes n nodes joined by a fabric bridge in a namespace of its
// own, with addresses 192.168.200.<i+1>/24 on their interface fabric0.
func Fabric(names []string, dir string) ([]*Node, func(), error) {
	var nodes []*Node
	fabric, err := testutils.NewNS()
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() {
		for _, n := range nodes {
			n.StopAgent()
			if n.listener != nil {
				n.listener.Close()
			}
			_ = n.NS.Close()
			_ = testutils.UnmountNS(n.NS)
		}
		_ = fabric.Close()
		_ = testutils.UnmountNS(fabric)
	}
	if err := fabric.Do(func(ns.NetNS) error {
		attrs := netlink.NewLinkAttrs()
		attrs.Name = "fab"
		if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: attrs}); err != nil {
			return err
		}
		br, err := netlink.LinkByName("fab")
		if err != nil {
			return err
		}
		return netlink.LinkSetUp(br)
	}); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("fabric bridge: %w", err)
	}
	for i, name := range names {
		netns, err := testutils.NewNS()
		if err != nil {
			cleanup()
			return nil, nil, err
		}
		n := &Node{Name: name, NS: netns, FabricIP: "192.168.200." + strconv.Itoa(i+1), Dir: filepath.Join(dir, name)}
		n.BinDir, n.ConfDir = filepath.Join(n.Dir, "bin"), filepath.Join(n.Dir, "net.d")
		nodes = append(nodes, n)
		if err := plugFabric(fabric, n, i); err != nil {
			cleanup()
			return nil, nil, fmt.Errorf("node %s: %w", name, err)
		}
	}
	return nodes, cleanup, nil
}

// plugFabric joins a node to the fabric bridge with a veth pair.
func plugFabric(fabric ns.NetNS, n *Node, i int) error {
	return fabric.Do(func(ns.NetNS) error {
		attrs := netlink.NewLinkAttrs()
		attrs.Name = "fab-" + strconv.Itoa(i)
		if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: attrs, PeerName: "fabric0", PeerNamespace: netlink.NsFd(int(n.NS.Fd()))}); err != nil {
			return err
		}
		l, err := netlink.LinkByName(attrs.Name)
		if err != nil {
			return err
		}
		br, err := netlink.LinkByName("fab")
		if err != nil {
			return err
		}
		if err := netlink.LinkSetMaster(l, br); err != nil {
			return err
		}
		if err := netlink.LinkSetUp(l); err != nil {
			return err
		}
		return n.NS.Do(func(ns.NetNS) error {
			lo, err := netlink.LinkByName("lo")
			if err != nil {
				return err
			}
			if err := netlink.LinkSetUp(lo); err != nil {
				return err
			}
			f, err := netlink.LinkByName("fabric0")
			if err != nil {
				return err
			}
			addr, _ := netlink.ParseAddr(n.FabricIP + "/24")
			if err := netlink.AddrAdd(f, addr); err != nil {
				return err
			}
			return netlink.LinkSetUp(f)
		})
	})
}

// ForwardAPI makes the kube-apiserver at target (host:port, in the test's
// namespace) reachable inside the node at 127.0.0.1:port: a listener made
// in the node's namespace keeps it, and the dials happen in the test's.
func (n *Node) ForwardAPI(target string, port int) error {
	var l net.Listener
	if err := n.NS.Do(func(ns.NetNS) error {
		var err error
		l, err = net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		return err
	}); err != nil {
		return err
	}
	n.listener = l
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer in.Close()
				out, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer out.Close()
				var wg sync.WaitGroup
				wg.Add(2)
				go func() { defer wg.Done(); _, _ = io.Copy(out, in); closeWrite(out) }()
				go func() { defer wg.Done(); _, _ = io.Copy(in, out); closeWrite(in) }()
				wg.Wait()
			}()
		}
	}()
	return nil
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}

// AgentOptions are what StartAgent runs the agent with.
type AgentOptions struct {
	Binary, Plugin, Kubeconfig, ClusterName string
	Extra                                   []string
}

// SocketDir is the directory of the node's agent's CNI socket.
func (n *Node) SocketDir() string { return filepath.Join(n.Dir, "sockets") }

// AgentSocket is the node's agent's CNI socket (agentapi.SocketPath in the
// node's network namespace).
func (n *Node) AgentSocket() (string, error) {
	var socket string
	err := n.NS.Do(func(ns.NetNS) error {
		var err error
		socket, err = agentapi.SocketPath(n.SocketDir())
		return err
	})
	return socket, err
}

// StartAgent runs the vrouter agent in the node's network namespace, as
// the DaemonSet's pod would (host network of the node).
func (n *Node) StartAgent(o AgentOptions) error {
	if err := os.MkdirAll(n.Dir, 0o755); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(n.Dir, "agent.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	args := append([]string{"--net=" + n.NS.Path(), o.Binary, "--node-name=" + n.Name,
		"--state-dir=" + filepath.Join(n.Dir, "state"), "--socket-dir=" + n.SocketDir(), "--cni-bin-dir=" + n.BinDir, "--cni-conf-dir=" + n.ConfDir,
		"--cni-binary=" + o.Plugin, "--cni-cluster-name=" + o.ClusterName,
		// libcni v1.3 (as containerd 2) speaks 1.1.0: STATUS and GC are
		// tested; no loopback plugin (libcni does not plug lo).
		"--cni-version=1.1.0", "--cni-loopback-binary=", "--metrics-bind-address=0",
		"--health-probe-bind-address=0", "--resync-seconds=2", "--zap-devel"}, o.Extra...)
	cmd := exec.Command("nsenter", args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+o.Kubeconfig)
	cmd.Stdout, cmd.Stderr = logf, logf
	// No Pdeathsig: it fires when the *thread* that started the child
	// exits, and the Go runtime ends threads (those ns.Do locked) at will:
	// it killed agents mid-test. Stop and Fabric's cleanup kill them.
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	n.agent, n.agentLog = cmd, logf
	return nil
}

// StopAgent kills the agent (as a crash or an eviction would) and waits.
func (n *Node) StopAgent() {
	if n.agent == nil {
		return
	}
	_ = n.agent.Process.Kill()
	_ = n.agent.Wait()
	n.agent = nil
	if n.agentLog != nil {
		n.agentLog.Close()
	}
}

// AgentPID is the running agent's process id (nsenter execs the agent in
// place), or 0.
func (n *Node) AgentPID() int {
	if n.agent == nil || n.agent.Process == nil {
		return 0
	}
	return n.agent.Process.Pid
}

// AgentLog is what the agent wrote.
func (n *Node) AgentLog() string {
	data, _ := os.ReadFile(filepath.Join(n.Dir, "agent.log"))
	return string(data)
}

// WaitForConflist waits until the agent installed the plugin and its conflist.
func (n *Node) WaitForConflist(ctx context.Context) (string, error) {
	path := filepath.Join(n.ConfDir, "10-kontrail.conflist")
	for {
		if _, err := os.Stat(path); err == nil {
			if _, err := os.Stat(filepath.Join(n.BinDir, "contrail-k8s-cni")); err == nil {
				return path, nil
			}
		}
		if n.agent != nil && n.agent.ProcessState != nil {
			return "", errors.New("the agent exited")
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("no conflist from the agent of %s: %w\n%s", n.Name, ctx.Err(), n.AgentLog())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Exec runs a command inside netns (ping, ip) and returns its output.
func Exec(netns ns.NetNS, name string, args ...string) (string, error) {
	out, err := exec.Command("nsenter", append([]string{"--net=" + netns.Path(), name}, args...)...).CombinedOutput()
	return string(out), err
}

// AgentKubeconfig writes a kubeconfig for agents: an admin user of the
// control plane, reached at 127.0.0.1:port (each node's forwarder).
func AgentKubeconfig(plane *envtest.Environment, path string, port int) error {
	user, err := plane.ControlPlane.AddUser(envtest.User{Name: "vrouter-agent", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	data, err := user.KubeConfig()
	if err != nil {
		return err
	}
	config, err := clientcmd.Load(data)
	if err != nil {
		return err
	}
	for _, c := range config.Clusters {
		c.Server = "https://127.0.0.1:" + strconv.Itoa(port)
	}
	return clientcmd.WriteToFile(*config, path)
}

// Register makes the node's Node object, as its kubelet would.
func (n *Node) Register(ctx context.Context, c client.Client) error {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.Name}}
	if err := c.Create(ctx, node); err != nil {
		return err
	}
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: n.FabricIP}, {Type: corev1.NodeHostName, Address: n.Name}}
	return c.Status().Update(ctx, node)
}
