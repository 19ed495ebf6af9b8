package lab

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"sigs.k8s.io/yaml"
)

// NodeName names the lab's node i (1-based).
func (l *Lab) NodeName(i int) string { return l.Name + "-node-" + strconv.Itoa(i) }

func (l *Lab) nodeNS(i int) string { return l.Name + "-n" + strconv.Itoa(i) }

// NodeNetns names node i's network namespace (ip -n <name>).
func (l *Lab) NodeNetns(i int) string { return l.nodeNS(i) }

// NodeIP is node i's fabric address.
func (l *Lab) NodeIP(i int) string { return l.Subnet + "." + strconv.Itoa(10+i) }

// node is where node i keeps its files.
func (l *Lab) node(i int, p ...string) string {
	return filepath.Join(append([]string{l.Dir, "nodes", l.NodeName(i)}, p...)...)
}

// CNIDirs are the nodes' CNI bin and conf dirs. One pair for every node:
// the vrouter agent's DaemonSet mounts the same host paths on each node,
// and what it writes there (the plugin, a conflist naming an abstract
// socket that each node's network namespace scopes) is the same for all.
func (l *Lab) CNIDirs() (bin, conf string) {
	return l.path("cni", "bin"), l.path("cni", "net.d")
}

// UpNodes brings up n nodes: each a network namespace on the fabric with
// its own containerd (root, state, socket, CNI dirs) and kubelet (root
// dir, cgroup root), the images imported, registered with the apiserver.
func (l *Lab) UpNodes(ctx context.Context, n int, images []string) error {
	pki, err := loadPKI(l.path("pki"))
	if err != nil {
		return err
	}
	if err := l.startRegistry(ctx); err != nil {
		return err
	}
	for i := 1; i <= n; i++ {
		if err := l.upNode(ctx, pki, i, images); err != nil {
			return fmt.Errorf("node %s: %w", l.NodeName(i), err)
		}
	}
	if err := l.routePodNetwork(n); err != nil {
		return err
	}
	return l.waitNodes(ctx, n)
}

// routePodNetwork routes the pod network from the control plane through
// the nodes (one route, a next hop per node): the lab's control plane is
// not a node (no kubelet, no vrouter agent), and the apiserver reaches pods
// (its proxy to pods and Services, an aggregated apiserver in a pod) as a
// router on the fabric would route them. Every node routes the pod network
// (its agent sets it up on every node): the one a flow enters by forwards
// it over the overlay, and the pod answers from its own node.
func (l *Lab) routePodNetwork(n int) error {
	args := []string{"-n", l.cpNS(), "route", "replace", PodCIDR}
	for i := 1; i <= n; i++ {
		args = append(args, "nexthop", "via", l.NodeIP(i))
	}
	return ip(args...)
}

func (l *Lab) upNode(ctx context.Context, p *pki, i int, images []string) error {
	name := l.NodeName(i)
	bin, conf := l.CNIDirs()
	for _, d := range []string{l.node(i, "containerd/root"), l.node(i, "containerd/state"), l.node(i, "kubelet"), l.node(i, "pki"), bin, conf} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := l.attach(l.nodeNS(i), l.NodeIP(i)); err != nil {
		return err
	}
	// The `kubernetes` Service's address is the control plane's (see APIPort).
	if err := ip("-n", l.nodeNS(i), "route", "add", ServiceCIDR, "via", l.cpIP()); err != nil {
		return err
	}
	if err := makeCgroup(name); err != nil {
		return err
	}
	if err := p.issue("node-"+name, "system:node:"+name, []string{"system:nodes"}, nil, nil); err != nil {
		return err
	}
	if err := l.kubeconfig(l.node(i, "kubelet.kubeconfig"), "node-"+name); err != nil {
		return err
	}
	sock := l.node(i, "containerd", "containerd.sock")
	// containerd's CRI: this sandbox's processes lack CAP_SYS_RESOURCE, so
	// without restrict_oom_score_adj every sandbox fails in runc init.
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
[grpc]
  address = %q
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %q
    conf_dir = %q
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]
    endpoint = [%[7]q]
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."gcr.io"]
    endpoint = [%[7]q]
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."kontrail.io"]
    endpoint = [%[7]q]
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."registry.k8s.io"]
    endpoint = [%[7]q]
`, l.node(i, "containerd", "root"), l.node(i, "containerd", "state"), sock, PauseImage, bin, conf, l.registryURL())
	if err := os.WriteFile(l.node(i, "containerd", "config.toml"), []byte(config), 0o644); err != nil {
		return err
	}
	if err := l.start(name+"-containerd", l.nodeNS(i), "containerd", "--config", l.node(i, "containerd", "config.toml")); err != nil {
		return err
	}
	if err := waitUntil(ctx, 30*time.Second, "containerd's socket", func() (bool, string) {
		if _, err := os.Stat(sock); err == nil {
			return true, ""
		}
		if pid := l.pid(name + "-containerd"); pid == 0 || !alive(pid) {
			return false, "containerd exited: " + l.LogTail(name+"-containerd", 20)
		}
		return false, "no socket yet: " + l.LogTail(name+"-containerd", 3)
	}); err != nil {
		return err
	}
	if err := importImages(ctx, sock, images); err != nil {
		return err
	}
	kubelet := map[string]any{
		"apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
		"address": l.NodeIP(i), "port": 10250, "readOnlyPort": 0,
		"authentication": map[string]any{"x509": map[string]any{"clientCAFile": filepath.Join(l.path("pki"), "ca.crt")},
			"webhook": map[string]any{"enabled": true}, "anonymous": map[string]any{"enabled": false}},
		"authorization":                 map[string]any{"mode": "Webhook"},
		"cgroupDriver":                  "cgroupfs",
		"cgroupRoot":                    "/" + name,
		"failCgroupV1":                  false,
		"failSwapOn":                    false,
		"localStorageCapacityIsolation": false,
		"containerRuntimeEndpoint":      "unix://" + sock,
		"imageServiceEndpoint":          "unix://" + sock,
		"resolvConf":                    "/etc/resolv.conf",
		"clusterDNS":                    []string{ClusterDNS},
		"clusterDomain":                 ClusterDomain,
		// Not /var/log/pods: nodes share the filesystem, and down removes
		// what is under the lab's directory. (kubelet's /var/log/containers
		// links are not configurable: down removes those into it.)
		"podLogsDir":                      l.node(i, "pod-logs"),
		"enforceNodeAllocatable":          []string{"pods"},
		"evictionHard":                    map[string]string{"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
		"imageGCHighThresholdPercent":     100,
		"registerWithTaints":              []any{},
		"serializeImagePulls":             false,
		"makeIPTablesUtilChains":          false,
		"protectKernelDefaults":           false,
		"kubeletCgroups":                  "",
		"shutdownGracePeriod":             "0s",
		"shutdownGracePeriodCriticalPods": "0s",
	}
	if l.CrashLoopBackOffMax > 0 {
		kubelet["crashLoopBackOff"] = map[string]any{"maxContainerRestartPeriod": l.CrashLoopBackOffMax.String()}
	}
	data, err := yaml.Marshal(kubelet)
	if err != nil {
		return err
	}
	if err := os.WriteFile(l.node(i, "kubelet", "config.yaml"), data, 0o644); err != nil {
		return err
	}
	return l.start(name+"-kubelet", l.nodeNS(i), filepath.Join(l.K8sBin, "kubelet"), "--config", l.node(i, "kubelet", "config.yaml"),
		"--kubeconfig", l.node(i, "kubelet.kubeconfig"), "--root-dir", l.node(i, "kubelet"), "--cert-dir", l.node(i, "pki"),
		"--node-ip", l.NodeIP(i), "--hostname-override", name)
}

// RegistryPort is the lab registry's port on the control plane's address.
const RegistryPort = 5000

func (l *Lab) registryURL() string { return fmt.Sprintf("http://%s:%d", l.cpIP(), RegistryPort) }

// startRegistry runs the lab's registry (kontrail-registry) in the control
// plane's namespace, serving the image tarballs, and waits until it serves
// them all: every node's containerd uses it as the mirror of docker.io,
// gcr.io, kontrail.io and registry.k8s.io (the e2e suite's images), so that images pulled Always (an implicit
// :latest) are pulled from it.
func (l *Lab) startRegistry(ctx context.Context) error {
	ready := l.path("pids", "registry.ready")
	_ = os.Remove(ready)
	if err := l.start("registry", l.cpNS(), l.path("bin", "kontrail-registry"), "--listen", fmt.Sprintf(":%d", RegistryPort),
		"--images", l.path("images"), "--ready-file", ready); err != nil {
		return err
	}
	return l.waitRegistryLoad(ctx, 1)
}

// waitRegistryLoad waits until the registry has finished its load number
// generation (it writes it to its ready file), for as long as it runs:
// a registry that exits fails the wait at once, with its log. Loading
// pushes every tarball into its memory, a few seconds' work; the bound is
// for a registry that neither finishes nor dies.
func (l *Lab) waitRegistryLoad(ctx context.Context, generation int) error {
	ready := l.path("pids", "registry.ready")
	want := strconv.Itoa(generation)
	return waitUntil(ctx, 3*time.Minute, "the registry's load "+want, func() (bool, string) {
		if data, err := os.ReadFile(ready); err == nil && strings.TrimSpace(string(data)) == want {
			return true, ""
		}
		if pid := l.pid("registry"); pid == 0 || !alive(pid) {
			return false, "the registry exited: " + l.LogTail("registry", 20)
		}
		return false, "still loading: " + l.LogTail("registry", 3)
	})
}

// pid is the pid a lab process was started with (0 if none).
func (l *Lab) pid(name string) int {
	data, err := os.ReadFile(l.path("pids", name+".pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid
}

// ReloadRegistry makes the registry serve the current image tarballs
// (after `images`, or a test's new image): SIGHUP, and wait for the load
// to finish. The registry is never restarted (a new process on the same
// port would race the old one for it); one that is gone is started again.
func (l *Lab) ReloadRegistry(ctx context.Context) error {
	if _, err := os.Stat(l.path("pids")); err != nil {
		return nil // no lab up
	}
	pid := l.pid("registry")
	if pid == 0 || !alive(pid) {
		fmt.Printf("kontrail-lab: the registry (pid %d) is not running: starting it; its log: %s\n", pid, l.LogTail("registry", 10))
		return l.startRegistry(ctx)
	}
	data, _ := os.ReadFile(l.path("pids", "registry.ready"))
	done, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	if done == 0 {
		// Still at its first load: wait for it, then reload.
		if err := l.waitRegistryLoad(ctx, 1); err != nil {
			return err
		}
		done = 1
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		return fmt.Errorf("signal the registry: %w", err)
	}
	return l.waitRegistryLoad(ctx, done+1)
}

// RegistryServing says whether the registry answers the distribution
// API's version check from the host (as the nodes' containerd asks it).
func (l *Lab) RegistryServing(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.registryURL()+"/v2/", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("the lab registry does not answer: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the lab registry answers %s", resp.Status)
	}
	return nil
}

// importImages imports image tarballs into a node's containerd.
func importImages(ctx context.Context, sock string, images []string) error {
	for _, img := range images {
		if out, err := exec.CommandContext(ctx, "ctr", "-a", sock, "-n", "k8s.io", "images", "import", img).CombinedOutput(); err != nil {
			return fmt.Errorf("import %s: %v: %s", filepath.Base(img), err, out)
		}
	}
	return nil
}

// ReimportImages imports image tarballs into the containerd of every node
// that is up (`kontrail-lab images` on a running lab): pods started after
// it (a rollout, a deleted pod) run the new images.
func (l *Lab) ReimportImages(ctx context.Context, images []string) (nodes int, err error) {
	socks, _ := filepath.Glob(filepath.Join(l.Dir, "nodes", "*", "containerd", "containerd.sock"))
	for _, sock := range socks {
		if err := importImages(ctx, sock, images); err != nil {
			return nodes, fmt.Errorf("node %s: %w", filepath.Base(filepath.Dir(filepath.Dir(sock))), err)
		}
		nodes++
	}
	return nodes, nil
}

// cgroupHierarchies are the mounted cgroup v1 hierarchies.
func cgroupHierarchies() []string {
	entries, _ := os.ReadDir("/sys/fs/cgroup")
	var out []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != "unified" {
			out = append(out, filepath.Join("/sys/fs/cgroup", e.Name()))
		}
	}
	return out
}

// makeCgroup makes a node's cgroup root in every v1 hierarchy; a new
// cpuset cgroup has no CPUs or memory nodes until given its parent's (the
// machine's: kubelet gives its kubepods cgroup every online CPU, so a node
// cannot be kept to fewer; make test-one-core takes CPUs offline instead).
func makeCgroup(name string) error {
	for _, h := range cgroupHierarchies() {
		dir := filepath.Join(h, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if filepath.Base(h) == "cpuset" {
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				data, err := os.ReadFile(filepath.Join(h, f))
				if err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
					return fmt.Errorf("%s: %w", filepath.Join(dir, f), err)
				}
			}
		}
	}
	return nil
}

// removeCgroup removes a node's cgroups, deepest first, in every hierarchy.
func removeCgroup(name string) error {
	var errs []string
	for _, h := range cgroupHierarchies() {
		root := filepath.Join(h, name)
		var dirs []string
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		sort.Slice(dirs, func(a, b int) bool { return len(dirs[a]) > len(dirs[b]) })
		for _, d := range dirs {
			if err := os.Remove(d); err != nil && !os.IsNotExist(err) {
				errs = append(errs, err.Error())
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("cgroups left: %s", strings.Join(errs, "; "))
	}
	return nil
}

// waitNodes waits until n nodes are registered.
func (l *Lab) waitNodes(ctx context.Context, n int) error {
	return waitUntil(ctx, 2*time.Minute, fmt.Sprintf("%d nodes registered", n), func() (bool, string) {
		out, err := exec.CommandContext(ctx, filepath.Join(l.K8sBin, "kubectl"), "--kubeconfig", l.Kubeconfig(), "get", "nodes", "-o", "name").CombinedOutput()
		if err == nil && strings.Count(string(out), "node/") >= n {
			return true, ""
		}
		var why []string
		for i := 1; i <= n; i++ {
			if pid := l.pid(l.NodeName(i) + "-kubelet"); pid == 0 || !alive(pid) {
				why = append(why, l.NodeName(i)+"'s kubelet exited: "+l.LogTail(l.NodeName(i)+"-kubelet", 10))
			}
		}
		return false, fmt.Sprintf("kubectl get nodes: %v: %s %s", err, out, strings.Join(why, "; "))
	})
}

// waitUntil polls check until it is done, and when the timeout passes
// says what was waited for and the check's last reason.
func waitUntil(ctx context.Context, timeout time.Duration, what string, check func() (done bool, why string)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		done, why := check()
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: not done after %s: %s", what, timeout, why)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// loadPKI reads the lab's CA back.
func loadPKI(dir string) (*pki, error) {
	p := &pki{dir: dir, path: func(n string) string { return filepath.Join(dir, n) }}
	return p, p.load()
}
