package bench

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
	"github.com/kontrail/kontrail/components/kubemanager/kubemanager"
	"github.com/kontrail/kontrail/tests/internal/nodes"
	"github.com/kontrail/kontrail/tests/internal/testenv"
)

// The control-plane benchmarks run Kontrail as a cluster does: the
// controller and kubemanager as their own processes with their default
// settings (the defaults of the Controller and Kubemanager CRs: 8 workers
// per reconciler, client QPS 200 / burst 400), and a vrouter agent per
// node. Each is its own process so that its peak RSS is its own.

// burstPods is the size of BenchmarkPodBurst's burst.
const burstPods = 1000

// kontrailStack is the running stack of processes.
type kontrailStack struct {
	env                     *testenv.Env
	controller, kubemanager *exec.Cmd
	nodes                   []*nodes.Node
	stopNodes               func()
	// conflists are each node's, as its agent wrote it: the plugin finds
	// its node's agent by the socket directory the conflist names.
	conflists map[string]*libcni.NetworkConfigList
	dir       string
	// start starts the controller or kubemanager process as the stack
	// did (a restart's measure starts it again).
	// start runs a component's process; args are added to (and win over)
	// its usual flags.
	start func(name string, args ...string) (*exec.Cmd, error)
	// agentOptions starts a node's agent.
	agentOptions nodes.AgentOptions
}

var (
	stackOnce sync.Once
	theStack  *kontrailStack
	stackErr  error
)

// processStack starts the stack once per process, with two nodes and the
// NADs bench-a and bench-b (default namespace) made into networks.
func processStack(b *testing.B) *kontrailStack {
	b.Helper()
	e := sharedEnv(b, processes)
	stackOnce.Do(func() { theStack, stackErr = startStack(e) })
	if stackErr != nil {
		b.Fatal(stackErr)
	}
	return theStack
}

func startStack(e *testenv.Env) (*kontrailStack, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "kontrail-bench-stack-")
	if err != nil {
		return nil, err
	}
	s := &kontrailStack{env: e, dir: dir}
	bins, err := buildKontrail(e.RepoRoot, dir)
	if err != nil {
		return nil, err
	}
	// Each as its own user, whose writes the webhooks skip as a cluster's
	// skip its Controller's and Kubemanager's accounts (testenv.ComponentUsers).
	kubeconfigs := map[string]string{}
	for name, user := range map[string]string{"controller": testenv.ControllerUser, "kubemanager": testenv.KubemanagerUser} {
		data, err := e.KubeConfig(user)
		if err != nil {
			return nil, err
		}
		kubeconfigs[name] = filepath.Join(dir, name+".kubeconfig")
		if err := os.WriteFile(kubeconfigs[name], data, 0o600); err != nil {
			return nil, err
		}
	}
	env := map[string][]string{"kubemanager": {"KUBEMANAGER_CLUSTER_NAME=bench", "KUBEMANAGER_SERVICE_V4_SUBNET=10.0.0.0/24"}}
	s.start = func(name string, args ...string) (*exec.Cmd, error) {
		cmd := exec.Command(bins[name], append([]string{"--kubeconfig", kubeconfigs[name], "--metrics-bind-address", "0", "--health-probe-bind-address", "0"}, args...)...)
		cmd.Env = append(os.Environ(), env[name]...)
		// Appended: a restarted process's log follows its predecessor's.
		log, err := os.OpenFile(filepath.Join(dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		cmd.Stdout, cmd.Stderr = log, log
		return cmd, cmd.Start()
	}
	if s.controller, err = s.start("controller"); err != nil {
		return nil, err
	}
	if s.kubemanager, err = s.start("kubemanager"); err != nil {
		return nil, err
	}

	// Two nodes, each with its agent, as the DaemonSet runs them.
	const port = 16446
	s.nodes, s.stopNodes, err = nodes.Fabric([]string{"stack-node-1", "stack-node-2"}, dir)
	if err != nil {
		return nil, err
	}
	host, _ := url.Parse(e.Config.Host)
	agentKubeconfig := filepath.Join(dir, "agent.kubeconfig")
	if err := nodes.AgentKubeconfig(e.Environment, agentKubeconfig, port); err != nil {
		return nil, err
	}
	s.agentOptions = nodes.AgentOptions{Binary: bins["agent"], Plugin: bins["plugin"], Kubeconfig: agentKubeconfig, ClusterName: "bench"}
	for _, n := range s.nodes {
		if err := n.ForwardAPI(host.Host, port); err != nil {
			return nil, err
		}
		if err := n.Register(ctx, e.Client); err != nil {
			return nil, err
		}
		if err := n.StartAgent(s.agentOptions); err != nil {
			return nil, err
		}
	}
	wait, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	s.conflists = map[string]*libcni.NetworkConfigList{}
	for _, n := range s.nodes {
		path, err := n.WaitForConflist(wait)
		if err != nil {
			return nil, err
		}
		if s.conflists[n.Name], err = libcni.ConfListFromFile(path); err != nil {
			return nil, err
		}
	}

	// kubemanager installs the NAD CRD when the cluster lacks it.
	if err := until(2*time.Minute, func() bool { return e.Client.List(ctx, &nadv1.NetworkAttachmentDefinitionList{}) == nil }); err != nil {
		return nil, fmt.Errorf("the NetworkAttachmentDefinition CRD: %w\n%s", err, s.log("kubemanager"))
	}
	for _, n := range []struct{ name, cidr string }{{"bench-a", "10.110.0.0/16"}, {"bench-b", "10.111.0.0/16"}} {
		nad := &nadv1.NetworkAttachmentDefinition{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: n.name,
			Annotations: map[string]string{kubemanager.AnnotationNetworks: `{"ipamV4Subnet": "` + n.cidr + `"}`}},
			Spec: nadv1.NetworkAttachmentDefinitionSpec{Config: `{"cniVersion": "1.0.0", "type": "contrail-k8s-cni"}`}}
		err := until(30*time.Second, func() bool {
			err := e.Client.Create(ctx, nad)
			return err == nil || apierrors.IsAlreadyExists(err)
		})
		if err != nil {
			return nil, fmt.Errorf("NAD %s: %w", n.name, err)
		}
	}
	err = until(2*time.Minute, func() bool {
		var vns corev1alpha1.VirtualNetworkList
		_ = e.Client.List(ctx, &vns)
		ok := 0
		for _, vn := range vns.Items {
			if vn.Status.State == corev1alpha1.StateSuccess && (vn.Name == "bench-a" || vn.Name == "bench-b" || vn.Name == "default-podnetwork") {
				ok++
			}
		}
		return ok == 3
	})
	if err != nil {
		return nil, fmt.Errorf("the networks: %w\n%s\n%s", err, s.log("kubemanager"), s.log("controller"))
	}
	return s, nil
}

func (s *kontrailStack) log(name string) string {
	data, _ := os.ReadFile(filepath.Join(s.dir, name+".log"))
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return name + "'s log (end):\n" + string(data)
}

// stopStack ends the stack's processes and nodes (TestMain, after the run).
func stopStack() {
	if theStack == nil {
		return
	}
	for _, c := range []*exec.Cmd{theStack.controller, theStack.kubemanager} {
		if c != nil && c.Process != nil {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}
	if theStack.stopNodes != nil {
		theStack.stopNodes() // the agents too
	}
	if os.Getenv("BENCH_KEEP") != "" {
		fmt.Fprintln(os.Stderr, "BENCH_KEEP: the stack's logs are in", theStack.dir)
		return
	}
	_ = os.RemoveAll(theStack.dir)
}

// buildKontrail builds the controller, kubemanager, agent and plugin
// binaries (static, stripped, as the images carry them) into dir.
func buildKontrail(repo, dir string) (map[string]string, error) {
	bins := map[string]string{}
	for _, t := range []struct{ name, module, pkg string }{
		{"controller", "components/controller", "./cmd/controller"},
		{"kubemanager", "components/kubemanager", "./cmd/kubemanager"},
		{"agent", "vrouter", "./cmd/agent"},
		{"plugin", "cni", "./cmd/contrail-k8s-cni"},
	} {
		out := filepath.Join(dir, t.name)
		if t.name == "plugin" {
			out = filepath.Join(dir, "contrail-k8s-cni")
		}
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, t.pkg)
		cmd.Dir, cmd.Env = filepath.Join(repo, t.module), append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build %s: %w\n%s", t.pkg, err, msg)
		}
		bins[t.name] = out
	}
	return bins, nil
}

// until polls done every 100 ms for up to limit.
func until(limit time.Duration, done func() bool) error {
	deadline := time.Now().Add(limit)
	for !done() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// benchPod is a pod on node with the two bench NADs.
func benchPod(namespace, name, node string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name,
		Annotations: map[string]string{nadv1.NetworkAttachmentAnnot: "default/bench-a,default/bench-b"}},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
}

// newNamespace makes a namespace for one repetition's pods (envtest has
// no namespace controller: namespaces are never deleted here).
func newNamespace(b *testing.B, c client.Client, prefix string) string {
	b.Helper()
	name := fmt.Sprintf("%s-%d", prefix, nextRun())
	if err := c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		b.Fatal(err)
	}
	return name
}

// kontrailObjects counts the objects kubemanager makes for pods: their
// VirtualMachines, interfaces and addresses.
func kontrailObjects(b *testing.B, c client.Client) int {
	b.Helper()
	ctx := context.Background()
	var vms corev1alpha1.VirtualMachineList
	var vmis corev1alpha1.VirtualMachineInterfaceList
	var iips corev1alpha1.InstanceIPList
	for _, l := range []client.ObjectList{&vms, &vmis, &iips} {
		if err := c.List(ctx, l); err != nil {
			b.Fatal(err)
		}
	}
	return len(vms.Items) + len(vmis.Items) + len(iips.Items)
}

// createAll creates n objects made by object from 32 goroutines, as an
// unthrottled client does, and returns how long that took.
func createAll(b *testing.B, c client.Client, n int, object func(i int) client.Object) time.Duration {
	b.Helper()
	return inParallel(b, n, func(i int) error { return c.Create(context.Background(), object(i)) })
}

// inParallel runs do(0..n-1) from 32 goroutines and returns how long that
// took; errors fail the benchmark.
func inParallel(b *testing.B, n int, do func(i int) error) time.Duration {
	b.Helper()
	work := make(chan int, n)
	for i := range n {
		work <- i
	}
	close(work)
	start := time.Now()
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for i := range work {
				if err := do(i); err != nil {
					b.Error(err)
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// deletePods deletes the namespaces' pods at once (no kubelet here to end
// them gracefully) and waits until kubemanager removed their objects.
func deletePods(b *testing.B, s *kontrailStack, objectsBefore int, namespaces ...string) {
	b.Helper()
	c := s.env.Client
	var all []corev1.Pod
	for _, namespace := range namespaces {
		var pods corev1.PodList
		if err := c.List(context.Background(), &pods, client.InNamespace(namespace)); err != nil {
			b.Fatal(err)
		}
		all = append(all, pods.Items...)
	}
	// One by one from 32 goroutines: a delete collection of a thousand
	// pods outlasts the apiserver's request timeout.
	inParallel(b, len(all), func(i int) error {
		err := c.Delete(context.Background(), &all[i], client.GracePeriodSeconds(0))
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	})
	// Each count lists every VirtualMachine, interface and address: once
	// a second, not to load the apiserver that removes them.
	deadline := time.Now().Add(10 * time.Minute)
	for kontrailObjects(b, c) > objectsBefore {
		if time.Now().After(deadline) {
			b.Fatalf("kubemanager did not remove the pods' objects within 10 minutes\n%s", s.log("kubemanager"))
		}
		time.Sleep(time.Second)
	}
}

// BenchmarkPodBurst creates 1,000 pods with two NADs each at once (spread
// over the two nodes; no kubelet runs them) and times until every pod has
// its network-status. In the same run, the floor: an unthrottled client
// creating as many objects as Kontrail made for those pods (their
// VirtualMachines, interfaces and addresses), as VirtualMachines, through
// the same apiserver and admission. It reports both in pods/s, and the
// peak RSS (VmHWM) of the controller, kubemanager and the larger agent.
func BenchmarkPodBurst(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: the agents run in network namespaces")
	}
	s := processStack(b)
	ctx := context.Background()
	c := s.env.Client
	var total, floor time.Duration
	writes := apiWrites{}
	for b.Loop() {
		namespace := newNamespace(b, c, "burst")
		before := kontrailObjects(b, c)
		writesBefore, err := readAPIWrites(ctx, s.env.Config)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		createAll(b, c, burstPods, func(i int) client.Object {
			return benchPod(namespace, fmt.Sprintf("pod-%04d", i), s.nodes[i%len(s.nodes)].Name)
		})
		if err := untilNetworkStatus(s.env.Config, namespace, burstPods, 10*time.Minute); err != nil {
			b.Fatalf("every pod's network-status: %v\n%s", err, s.log("kubemanager"))
		}
		took := time.Since(start)
		total += took

		b.StopTimer()
		writesAfter, err := readAPIWrites(ctx, s.env.Config)
		if err != nil {
			b.Fatal(err)
		}
		for k, v := range writesAfter.since(writesBefore) {
			writes[k] += v
		}
		made := kontrailObjects(b, c) - before
		floorName := fmt.Sprintf("floor-%s", namespace)
		took = createAll(b, c, made, func(i int) client.Object {
			return &corev1alpha1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%05d", floorName, i),
				Labels: map[string]string{"bench": floorName, "bench-chunk": strconv.Itoa(i / floorChunk)}}}
		})
		floor += took
		// In chunks: one delete-collection of the ~7,000 objects, each
		// through admission, outlasts the apiserver's 60 s request timeout
		// on a loaded machine (it answered with an HTTP/2 INTERNAL_ERROR).
		for chunk := 0; chunk*floorChunk < made; chunk++ {
			if err := c.DeleteAllOf(ctx, &corev1alpha1.VirtualMachine{},
				client.MatchingLabels{"bench": floorName, "bench-chunk": strconv.Itoa(chunk)}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(peakRSSMiB(b, s.controller.Process.Pid), "controller-peak-MiB")
		b.ReportMetric(peakRSSMiB(b, s.kubemanager.Process.Pid), "kubemanager-peak-MiB")
		b.ReportMetric(agentPeakRSSMiB(b, s), "agent-peak-MiB")
		probes := measureRestarts(b, s)
		deletePods(b, s, before, append(probes, namespace)...)
		b.StartTimer()
	}
	podsPerSecond := float64(burstPods*b.N) / total.Seconds()
	floorPodsPerSecond := float64(burstPods*b.N) / floor.Seconds()
	b.ReportMetric(podsPerSecond, "pods/s")
	b.ReportMetric(total.Seconds()/float64(b.N), "s/1000pods")
	b.ReportMetric(floorPodsPerSecond, "floor-pods/s")
	b.ReportMetric(floor.Seconds()/float64(b.N), "floor-s/1000pods")
	b.ReportMetric(podsPerSecond/floorPodsPerSecond, "ratio-to-floor")
	writes.report(b, burstPods*b.N)
}

// agentPeakRSSMiB is the larger of the agents' peak RSS.
func agentPeakRSSMiB(b *testing.B, s *kontrailStack) float64 {
	b.Helper()
	peak := 0.0
	for _, n := range s.nodes {
		peak = max(peak, peakRSSMiB(b, n.AgentPID()))
	}
	return peak
}

// floorChunk is how many of the floor's objects one delete-collection
// removes.
const floorChunk = 500

// latencyRate and latencySeconds are BenchmarkPodLatency's steady load.
const (
	latencyRate    = 20
	latencySeconds = 15
)

// BenchmarkPodLatency creates pods at a steady 20 per second for 15 s,
// each with two NADs on one of the two nodes, and as soon as each is
// created calls CNI ADD for it through libcni from inside its node, as a
// container runtime does (a kubelet calls it later: this is the networking
// part alone, at its worst, waiting for the allocation). It reports the
// time from the pod's creation to a successful ADD, p50 and p99.
func BenchmarkPodLatency(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: network namespaces and veth pairs")
	}
	s := processStack(b)
	c := s.env.Client
	var all []time.Duration
	failed := 0
	for b.Loop() {
		namespace := newNamespace(b, c, "latency")
		before := kontrailObjects(b, c)
		n := latencyRate * latencySeconds
		latencies := make([]time.Duration, n)
		sandboxes := make([]*sandbox, n)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var firstFailure error
		tick := time.NewTicker(time.Second / latencyRate)
		for i := range n {
			if i > 0 {
				<-tick.C
			}
			wg.Go(func() {
				node := s.nodes[i%len(s.nodes)]
				pod := benchPod(namespace, fmt.Sprintf("pod-%04d", i), node.Name)
				start := time.Now()
				err := c.Create(context.Background(), pod)
				var sb *sandbox
				if err == nil {
					sb, err = s.add(node, pod)
				}
				if err != nil {
					// A pod that never got its network counts, as a failure
					// and as an infinite latency: the percentiles say how
					// many pods were later than any bound, not only the
					// lucky ones.
					mu.Lock()
					failed++
					if firstFailure == nil {
						firstFailure = fmt.Errorf("ADD of %s: %w", pod.Name, err)
					}
					mu.Unlock()
					latencies[i] = neverDone
					return
				}
				latencies[i], sandboxes[i] = time.Since(start), sb
			})
		}
		tick.Stop()
		wg.Wait()
		b.StopTimer()
		for _, sb := range sandboxes {
			if sb != nil {
				if err := sb.del(); err != nil {
					b.Error(err)
				}
			}
		}
		if b.Failed() {
			b.Fatal(s.log("kubemanager"))
		}
		deletePods(b, s, before, namespace)
		all = append(all, latencies...)
		if firstFailure != nil {
			b.Logf("%d of %d ADDs failed; the first: %v", failed, n, firstFailure)
		}
		b.StartTimer()
	}
	for _, p := range []int{50, 90, 99} {
		b.ReportMetric(latencyMS(percentile(all, p)), fmt.Sprintf("p%d-ms", p))
	}
	b.ReportMetric(float64(len(all)), "pods")
	b.ReportMetric(float64(failed), "failed-adds")
}

// neverDone is the latency of a pod whose ADD failed: later than any other.
const neverDone = time.Duration(math.MaxInt64)

// latencyMS is d in ms, +Inf for a pod that never got its network
// (kontrail-bench prints it as "> the plugin's wait").
func latencyMS(d time.Duration) float64 {
	if d == neverDone {
		return math.Inf(1)
	}
	return ms(d)
}

// sandbox is a pod's network namespace plugged by ADD.
type sandbox struct {
	node *nodes.Node
	ns   ns.NetNS
	rt   *libcni.RuntimeConf
	cni  *libcni.CNIConfig
	list *libcni.NetworkConfigList
}

// add plugs pod into a fresh network namespace from inside node.
func (s *kontrailStack) add(node *nodes.Node, pod *corev1.Pod) (*sandbox, error) {
	podNS, err := testutils.NewNS()
	if err != nil {
		return nil, err
	}
	id := "sandbox-" + string(pod.UID)
	sb := &sandbox{node: node, ns: podNS, list: s.conflists[node.Name],
		cni: libcni.NewCNIConfigWithCacheDir([]string{node.BinDir}, filepath.Join(node.Dir, "cni-cache"), quietExec()),
		rt: &libcni.RuntimeConf{ContainerID: id, NetNS: podNS.Path(), IfName: "eth0",
			Args: [][2]string{{"IgnoreUnknown", "1"}, {"K8S_POD_NAMESPACE", pod.Namespace}, {"K8S_POD_NAME", pod.Name},
				{"K8S_POD_INFRA_CONTAINER_ID", id}, {"K8S_POD_UID", string(pod.UID)}}}}
	err = node.NS.Do(func(ns.NetNS) error {
		_, err := sb.cni.AddNetworkList(context.Background(), sb.list, sb.rt)
		return err
	})
	if err != nil {
		_ = podNS.Close()
		_ = testutils.UnmountNS(podNS)
		return nil, err
	}
	return sb, nil
}

func (sb *sandbox) del() error {
	defer func() { _ = sb.ns.Close(); _ = testutils.UnmountNS(sb.ns) }()
	return sb.node.NS.Do(func(ns.NetNS) error {
		return sb.cni.DelNetworkList(context.Background(), sb.list, sb.rt)
	})
}

// peakRSSMiB reads a process's peak resident set size (VmHWM).
func peakRSSMiB(b *testing.B, pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return float64(kb) / 1024
		}
	}
	b.Fatal("no VmHWM in /proc status")
	return 0
}
