package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Lab is the lab's layout on this machine. Its processes run detached
// (they outlive kontrail-lab); their pids are in <Dir>/pids.
type Lab struct {
	// Name prefixes the lab's network namespaces and its bridge.
	Name string
	// Dir holds certificates, kubeconfigs, data, logs and pids.
	Dir string
	// K8sBin holds the Kubernetes binaries and etcd (make envtest-assets).
	K8sBin string
	// Subnet is the fabric's first three octets: the host is .254, the
	// control plane .1.
	Subnet string
	// CrashLoopBackOffMax, when set, caps the kubelets' back-off between
	// restarts of a crashed container (KubeletConfiguration's
	// crashLoopBackOff.maxContainerRestartPeriod, 1 s to 300 s; 300 s when
	// unset): a suite that kills the same component many times in an hour
	// (the chaos suite's long run) waits for Kontrail, not for kubelet.
	CrashLoopBackOffMax time.Duration
}

// Addresses and ranges of the lab. The apiserver listens on the
// `kubernetes` Service's port, and that Service's address is on the
// control plane's lo, routed from every node: in-cluster clients in
// host-network pods (Kontrail's own) reach it before kube-proxy runs.
const (
	// Not kubeadm's 10.96.0.0/12: the labs' fabrics (10.9x.0.0/24, the
	// demo's 10.99.0.0/24) lie in it, and kube-proxy drops what a node
	// sends to an address of the Service range that no Service has (the
	// nodes lost the control plane, at 10.98.0.1, the moment kube-proxy
	// ran). Kubemanager's service network (10.96.0.0/12) holds it.
	ServiceCIDR = "10.96.0.0/16"
	APIPort     = 443
)

// kubernetesServiceIP is the `kubernetes` Service's address: the range's first.
func kubernetesServiceIP() net.IP {
	_, svc, _ := net.ParseCIDR(ServiceCIDR)
	ip := make(net.IP, 4)
	copy(ip, svc.IP.To4())
	ip[3]++
	return ip
}

func (l *Lab) cpNS() string            { return l.Name + "-cp" }
func (l *Lab) bridge() string          { return l.Name + "0" }
func (l *Lab) hostIP() string          { return l.Subnet + ".254" }
func (l *Lab) cpIP() string            { return l.Subnet + ".1" }
func (l *Lab) path(p ...string) string { return filepath.Join(append([]string{l.Dir}, p...)...) }

// Kubeconfig is the admin kubeconfig for kubectl on the host.
func (l *Lab) Kubeconfig() string { return l.path("kubeconfig") }

// UpControlPlane makes the fabric and the control plane's namespace and
// runs etcd, kube-apiserver, kube-controller-manager and kube-scheduler in
// it, with certificates, service-account signing and RBAC.
func (l *Lab) UpControlPlane(ctx context.Context) error {
	for _, d := range []string{"logs", "pids", "etcd"} {
		if err := os.MkdirAll(l.path(d), 0o755); err != nil {
			return err
		}
	}
	if err := l.fabric(); err != nil {
		return fmt.Errorf("fabric: %w", err)
	}
	if err := l.upExternal(); err != nil {
		return fmt.Errorf("the external host: %w", err)
	}
	if err := l.certificates(); err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	pki := l.path("pki")
	cert := func(n string) string { return filepath.Join(pki, n) }
	if err := l.start("etcd", l.cpNS(), filepath.Join(l.K8sBin, "etcd"), "--data-dir", l.path("etcd"),
		"--listen-client-urls", "http://127.0.0.1:2379", "--advertise-client-urls", "http://127.0.0.1:2379",
		"--listen-peer-urls", "http://127.0.0.1:2380", "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
		"--initial-cluster", "default=http://127.0.0.1:2380", "--quota-backend-bytes", "4294967296"); err != nil {
		return err
	}
	if err := l.start("kube-apiserver", l.cpNS(), filepath.Join(l.K8sBin, "kube-apiserver"),
		"--etcd-servers", "http://127.0.0.1:2379", "--secure-port", strconv.Itoa(APIPort), "--bind-address", "0.0.0.0",
		"--advertise-address", l.cpIP(), "--tls-cert-file", cert("apiserver.crt"), "--tls-private-key-file", cert("apiserver.key"),
		"--client-ca-file", cert("ca.crt"), "--authorization-mode", "Node,RBAC", "--enable-admission-plugins", "NodeRestriction",
		"--service-cluster-ip-range", ServiceCIDR, "--service-account-issuer", "https://kubernetes.default.svc",
		"--service-account-key-file", cert("sa.pub"), "--service-account-signing-key-file", cert("sa.key"),
		"--kubelet-client-certificate", cert("apiserver-kubelet-client.crt"), "--kubelet-client-key", cert("apiserver-kubelet-client.key"),
		// kubectl exec/logs reach kubelets by node IP; webhooks by their
		// Service's endpoints (there is no kube-proxy).
		"--kubelet-preferred-address-types", "InternalIP", "--enable-aggregator-routing", "--allow-privileged"); err != nil {
		return err
	}
	if err := l.waitReady(ctx); err != nil {
		return err
	}
	if err := l.start("kube-controller-manager", l.cpNS(), filepath.Join(l.K8sBin, "kube-controller-manager"),
		"--kubeconfig", l.path("kube-controller-manager.kubeconfig"),
		"--authentication-kubeconfig", l.path("kube-controller-manager.kubeconfig"),
		"--authorization-kubeconfig", l.path("kube-controller-manager.kubeconfig"),
		"--use-service-account-credentials", "--service-account-private-key-file", cert("sa.key"), "--root-ca-file", cert("ca.crt"),
		"--cluster-signing-cert-file", cert("ca.crt"), "--cluster-signing-key-file", cert("ca.key"),
		"--leader-elect=false", "--bind-address", "127.0.0.1"); err != nil {
		return err
	}
	return l.start("kube-scheduler", l.cpNS(), filepath.Join(l.K8sBin, "kube-scheduler"),
		"--kubeconfig", l.path("kube-scheduler.kubeconfig"), "--authentication-kubeconfig", l.path("kube-scheduler.kubeconfig"),
		"--authorization-kubeconfig", l.path("kube-scheduler.kubeconfig"), "--leader-elect=false", "--bind-address", "127.0.0.1")
}

// fabric makes the bridge on the host (with the host's address, so that
// kubectl works from it) and the control plane's namespace on it.
func (l *Lab) fabric() error {
	cmds := [][]string{
		{"link", "add", l.bridge(), "type", "bridge"},
		{"addr", "add", l.hostIP() + "/24", "dev", l.bridge()},
		{"link", "set", l.bridge(), "up"},
	}
	for _, c := range cmds {
		if err := ip(c...); err != nil {
			return err
		}
	}
	if err := l.attach(l.cpNS(), l.cpIP()); err != nil {
		return err
	}
	return ip("-n", l.cpNS(), "addr", "add", kubernetesServiceIP().String()+"/32", "dev", "lo")
}

// ExternalIP is the external host's address: a network namespace on the
// fabric that is neither a node nor the control plane (a host outside the
// cluster, as a user's would be), serving HTTP on port 80 with
// kontrail-echo, which answers every request with the address it came
// from. Nothing routes the pod network to it: a pod reaches it only
// through its node's fabric SNAT, with the node's address.
func (l *Lab) ExternalIP() string { return l.Subnet + ".200" }

// ExternalNetns is the external host's network namespace.
func (l *Lab) ExternalNetns() string { return l.Name + "-ext" }

func (l *Lab) upExternal() error {
	if err := l.attach(l.ExternalNetns(), l.ExternalIP()); err != nil {
		return err
	}
	echo := l.path("bin", "kontrail-echo")
	if _, err := os.Stat(echo); err != nil {
		// A control plane brought up without the lab's binaries (the lab
		// package's own tests): the host is there, serving nothing.
		return nil
	}
	return l.start("external-http", l.ExternalNetns(), echo, "--listen", ":80")
}

// attach makes a network namespace joined to the fabric with addr on eth0.
func (l *Lab) attach(ns, addr string) error {
	host := "v" + ns
	if len(host) > 15 {
		host = host[:15]
	}
	for _, c := range [][]string{
		{"netns", "add", ns},
		{"link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"link", "set", host, "master", l.bridge()},
		{"link", "set", host, "up"},
		{"-n", ns, "addr", "add", addr + "/24", "dev", "eth0"},
		{"-n", ns, "link", "set", "eth0", "up"},
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", ns, "route", "add", "default", "via", l.hostIP()},
	} {
		if err := ip(c...); err != nil {
			return err
		}
	}
	return nil
}

func ip(args ...string) error {
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// certificates issues the control plane's certificates and writes the
// kubeconfigs of the admin and the control-plane components.
func (l *Lab) certificates() error {
	p, err := newPKI(l.path("pki"))
	if err != nil {
		return err
	}
	if err := p.issue("apiserver", "kube-apiserver", nil, []net.IP{net.ParseIP(l.cpIP()), kubernetesServiceIP(), net.ParseIP("127.0.0.1")},
		[]string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "localhost"}); err != nil {
		return err
	}
	for _, c := range []struct{ name, user, group string }{
		{"admin", "kubernetes-admin", "system:masters"},
		{"apiserver-kubelet-client", "kube-apiserver-kubelet-client", "system:masters"},
		{"kube-controller-manager", "system:kube-controller-manager", ""},
		{"kube-scheduler", "system:kube-scheduler", ""},
	} {
		var groups []string
		if c.group != "" {
			groups = []string{c.group}
		}
		if err := p.issue(c.name, c.user, groups, nil, nil); err != nil {
			return err
		}
	}
	if err := p.serviceAccountKey(); err != nil {
		return err
	}
	if err := l.kubeconfig(l.Kubeconfig(), "admin"); err != nil {
		return err
	}
	for _, c := range []string{"kube-controller-manager", "kube-scheduler"} {
		if err := l.kubeconfig(l.path(c+".kubeconfig"), c); err != nil {
			return err
		}
	}
	return nil
}

// kubeconfig writes a kubeconfig for the certificate <cert> of the lab's PKI.
func (l *Lab) kubeconfig(path, cert string) error {
	pki := l.path("pki")
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["lab"] = &clientcmdapi.Cluster{Server: fmt.Sprintf("https://%s:%d", l.cpIP(), APIPort),
		CertificateAuthority: filepath.Join(pki, "ca.crt")}
	cfg.AuthInfos[cert] = &clientcmdapi.AuthInfo{ClientCertificate: filepath.Join(pki, cert+".crt"), ClientKey: filepath.Join(pki, cert+".key")}
	cfg.Contexts["lab"] = &clientcmdapi.Context{Cluster: "lab", AuthInfo: cert}
	cfg.CurrentContext = "lab"
	return clientcmd.WriteToFile(*cfg, path)
}

// start runs a process detached in a network namespace (nsenter, not `ip
// netns exec`, which remounts /sys and hides the cgroup mounts), logging to
// logs/<name>.log, its pid in pids/<name>.pid and its nsenter arguments in
// pids/<name>.cmd (JSON), so that RestartProcess runs it again the same way.
func (l *Lab) start(name, ns, binary string, args ...string) error {
	nsenterArgs := append([]string{"--net=/var/run/netns/" + ns, binary}, args...)
	if err := writeCommand(l.path("pids", name+".cmd"), nsenterArgs); err != nil {
		return err
	}
	return l.spawn(name, nsenterArgs)
}

// waitReady waits until the apiserver answers /readyz to the admin.
func (l *Lab) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		out, err := exec.CommandContext(ctx, filepath.Join(l.K8sBin, "kubectl"), "--kubeconfig", l.Kubeconfig(), "get", "--raw", "/readyz").CombinedOutput()
		if err == nil && strings.TrimSpace(string(out)) == "ok" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the apiserver is not ready (see %s): %s", l.path("logs", "kube-apiserver.log"), out)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Down stops every process of the lab and removes its namespaces, links
// and state; binaries and images stay for the next `up`. It works after
// a crashed `up` as well: each step ignores what is already gone.
func (l *Lab) Down() error {
	var errs []error
	pidFiles, _ := filepath.Glob(l.path("pids", "*.pid"))
	var pids []int
	for _, f := range pidFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
			pids = append(pids, pid)
		}
		_ = os.Remove(f)
	}
	// containerd's shims run detached and name the lab's directory; the
	// pods' processes are in the nodes' cgroups.
	pids = append(pids, l.processesUnderDir()...)
	nodeCgroups := l.nodeCgroups()
	for _, cg := range nodeCgroups {
		pids = append(pids, cgroupProcs(cg)...)
	}
	// containerd names its pods' network namespaces cni-<id> under
	// /var/run/netns, as any other containerd would: the lab's are those
	// its pods' processes are in (found before they are stopped).
	sandboxNetns := netnsOf(pids)
	stopAll(pids)
	if err := l.unmountAll(); err != nil {
		errs = append(errs, err)
	}
	for _, cg := range nodeCgroups {
		if err := removeCgroup(cg); err != nil {
			errs = append(errs, err)
		}
	}
	// A SIGKILLed agent leaves its socket.
	for _, socket := range l.AgentSockets() {
		_ = os.Remove(socket)
	}
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if strings.HasPrefix(f[0], l.Name+"-") || sandboxNetns[netnsInode("/var/run/netns/"+f[0])] {
			if err := ip("netns", "del", f[0]); err != nil {
				errs = append(errs, err)
			}
		}
	}
	// kubelet links every container's log into /var/log/containers.
	if links, err := os.ReadDir(containerLogLinks); err == nil {
		for _, e := range links {
			link := filepath.Join(containerLogLinks, e.Name())
			if target, err := os.Readlink(link); err == nil && strings.HasPrefix(target, l.Dir+"/") {
				_ = os.Remove(link)
			}
		}
	}
	_ = os.Remove(containerLogLinks) // when empty: kubelet made it
	// The vrouter agents' state: a directory per node (AgentStateDir).
	states, _ := filepath.Glob(filepath.Join(AgentStateDir, l.Name+"-node-*"))
	for _, d := range states {
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, err)
		}
	}
	// Their parents stay: AgentStateDir and AgentSocketDir are the host's,
	// shared by every lab's agents on this machine (as by a node's), and an
	// empty one removed beneath another lab's running agent leaves its
	// mount on an unlinked directory: every ADD of that lab then failed
	// "mkdir .../vrouter/<node>: no such file or directory" (issue 25:
	// a lab's Down run while another lab's agents had no port yet).
	if _, err := net.InterfaceByName(l.bridge()); err == nil {
		if err := ip("link", "del", l.bridge()); err != nil {
			errs = append(errs, err)
		}
	}
	for _, d := range []string{"etcd", "pki", "logs", "pids", "nodes", "cni", "install"} {
		if err := os.RemoveAll(l.path(d)); err != nil {
			errs = append(errs, err)
		}
	}
	_ = os.Remove(l.Kubeconfig())
	kubeconfigs, _ := filepath.Glob(l.path("*.kubeconfig"))
	for _, k := range kubeconfigs {
		_ = os.Remove(k)
	}
	// The kernel destroys a deleted network namespace, and the veths in
	// it, after `ip netns del` returns: a lab brought up again at once
	// would meet its predecessor's host ends ("File exists").
	if err := waitUntil(context.Background(), 2*time.Minute, "the links of lab "+l.Name+" gone", func() (bool, string) {
		left := l.hostLinks()
		return len(left) == 0, "still there: " + strings.Join(left, ", ")
	}); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// hostLinks are the lab's links in the host's namespace: its bridge and
// the host ends of its namespaces' veths (attach).
func (l *Lab) hostLinks() []string {
	links, _ := net.Interfaces()
	var out []string
	for _, link := range links {
		if link.Name == l.bridge() || strings.HasPrefix(link.Name, "v"+l.Name+"-") {
			out = append(out, link.Name)
		}
	}
	return out
}

// AgentSockets are the CNI sockets of the agents of the lab's nodes, there
// or not: each is named after its node's network namespace
// (agentapi.SocketPath).
func (l *Lab) AgentSockets() []string {
	var out []string
	names, _ := filepath.Glob("/var/run/netns/" + l.Name + "-n*")
	for _, name := range names {
		if ino := netnsInode(name); ino != 0 {
			out = append(out, filepath.Join(AgentSocketDir, fmt.Sprintf("net-%d.sock", ino)))
		}
	}
	sort.Strings(out)
	return out
}

// containerLogLinks is where kubelet links containers' logs (not configurable).
const containerLogLinks = "/var/log/containers"

// PodNetns names the network namespaces containerd made for the pods of
// the lab's nodes (those its pods' processes are in), for a test to check
// that down removes them while other labs may run.
func (l *Lab) PodNetns() []string {
	var pids []int
	for _, cg := range l.nodeCgroups() {
		pids = append(pids, cgroupProcs(cg)...)
	}
	held := netnsOf(pids)
	entries, _ := os.ReadDir("/var/run/netns")
	var names []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), l.Name+"-") && held[netnsInode("/var/run/netns/"+e.Name())] {
			names = append(names, e.Name())
		}
	}
	return names
}

// netnsOf is the set of network namespaces (by inode) processes are in.
func netnsOf(pids []int) map[uint64]bool {
	out := map[uint64]bool{}
	for _, pid := range pids {
		if ino := netnsInode("/proc/" + strconv.Itoa(pid) + "/ns/net"); ino != 0 {
			out[ino] = true
		}
	}
	return out
}

// netnsInode is the inode of the network namespace at path (a process's
// ns/net, or a namespace's bind mount), 0 if none.
func netnsInode(path string) uint64 {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0
	}
	return st.Ino
}

// stopAll ends processes: SIGTERM to all at once, SIGKILL to those left
// after 5 s (a lab favours a quick down over a graceful one).
func stopAll(pids []int) {
	for _, pid := range pids {
		if alive(pid) {
			_ = syscall.Kill(pid, syscall.SIGTERM)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range pids {
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if alive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// alive: the process exists and is not a zombie (a lab process started by
// a still-running parent, a test, stays a zombie until that parent exits).
func alive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) state ...: comm may hold spaces, the state follows the last ')'.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] != 'Z'
}

// processesUnderDir are the processes whose command line names the lab's
// directory (containerd's shims).
func (l *Lab) processesUnderDir() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Contains(string(cmdline), l.Dir+"/") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// nodeCgroups are the lab's node cgroup roots (by name), found in the
// cpu hierarchy.
func (l *Lab) nodeCgroups() []string {
	entries, _ := os.ReadDir("/sys/fs/cgroup/cpu")
	var out []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), l.Name+"-node-") {
			out = append(out, e.Name())
		}
	}
	return out
}

// cgroupProcs lists every process in a node's cgroup tree.
func cgroupProcs(name string) []int {
	var pids []int
	_ = filepath.WalkDir(filepath.Join("/sys/fs/cgroup/pids", name), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
			return nil
		}
		data, _ := os.ReadFile(p)
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
		return nil
	})
	return pids
}

// unmountAll detaches every mount under the lab's directory (containerd's
// snapshots, kubelet's volumes), deepest first.
func (l *Lab) unmountAll() error {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	var points []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == l.Dir || strings.HasPrefix(f[4], l.Dir+"/")) {
			points = append(points, f[4])
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	var errs []error
	for _, p := range points {
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil && err != syscall.EINVAL && err != syscall.ENOENT {
			errs = append(errs, fmt.Errorf("umount %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// LogTail is the last n lines of a lab process's log (logs/<name>.log).
func (l *Lab) LogTail(name string, n int) string {
	data, err := os.ReadFile(l.path("logs", name+".log"))
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ArtifactsDir is where a failed suite keeps its lab's logs:
// $KONTRAIL_ARTIFACTS (CI sets it and prints what is there), else
// <tmp>/kontrail-artifacts.
func ArtifactsDir() string {
	if d := os.Getenv("KONTRAIL_ARTIFACTS"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "kontrail-artifacts")
}

// KeepLogs copies the lab's evidence — every process's log (control
// plane, registry, containerd, kubelet) and the nodes' pod logs (every
// container of every pod, Kontrail's own included) — into
// ArtifactsDir()/<lab>-<time>, before Down removes them, and returns
// where. A failed suite calls it so that its cause survives the run.
func (l *Lab) KeepLogs() (string, error) {
	dest := filepath.Join(ArtifactsDir(), l.Name+"-"+time.Now().UTC().Format("20060102-150405"))
	copyTree := func(src, dst string) error {
		return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return nil // gone meanwhile
			}
			rel, _ := filepath.Rel(src, p)
			target := filepath.Join(dst, rel)
			if d.IsDir() {
				return os.MkdirAll(target, 0o755)
			}
			if !d.Type().IsRegular() && d.Type()&os.ModeSymlink == 0 {
				return nil
			}
			data, err := os.ReadFile(p) // follows kubelet's links to the current log
			if err != nil {
				return nil
			}
			return os.WriteFile(target, data, 0o644)
		})
	}
	if err := copyTree(l.path("logs"), filepath.Join(dest, "logs")); err != nil {
		return dest, err
	}
	nodes, _ := filepath.Glob(l.path("nodes", "*", "pod-logs"))
	for _, d := range nodes {
		node := filepath.Base(filepath.Dir(d))
		if err := copyTree(d, filepath.Join(dest, "pod-logs", node)); err != nil {
			return dest, err
		}
	}
	return dest, nil
}
