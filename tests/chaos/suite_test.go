// Package chaos proves Kontrail's ownership invariants under faults, on a
// lab brought up once for the suite (tests/internal/lab: a control plane
// and two containerd/kubelet nodes, Kontrail installed by its operator).
// Pods are born and die continuously while components are SIGKILLed,
// evicted, the control plane's kube-apiserver and etcd restarted and
// Contrail objects deleted by hand; after every cycle every running pod's
// network-status is compared with its kernel, with its first
// network-status and with every other pod's. Needs root.
// docs/reliability.md describes it; CHAOS_LONG=1 (make chaos) is the long
// run, CHAOS=1 (make chaos-short) the short one. Without either it is
// skipped: it is not yet part of make test (docs/reliability.md says why).
package chaos

import (
	"context"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/kontrail/kontrail/tests/internal/lab"
)

var (
	theLab  *lab.Lab
	repo    string
	labDir  string
	kubectl string
	// node1 and node2 are the lab's nodes.
	node1, node2 string
	// suiteFailed says a spec failed: the lab's logs are kept.
	suiteFailed bool
	// rec holds what the summary reports; rnd draws every random choice.
	rec *recorder
	rnd *rand.Rand
	// logOut is where progress and violations are printed as they happen.
	// (Standard output: Ginkgo's writer shows only a failed spec's lines,
	// and the long run's progress must show as it goes.)
	logOut io.Writer = os.Stdout
)

func TestChaos(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(90 * time.Second)
	SetDefaultEventuallyPollingInterval(500 * time.Millisecond)
	// Ginkgo's own suite timeout (1 h by default) follows go test's
	// -timeout, which make chaos sets for the long run.
	suiteConfig, reporterConfig := GinkgoConfiguration()
	if d, ok := t.Deadline(); ok {
		suiteConfig.Timeout = time.Until(d) - 30*time.Second
	}
	RunSpecs(t, "Chaos", suiteConfig, reporterConfig)
}

// longFromEnv: CHAOS_LONG=1 asks for the long run (make chaos).
func longFromEnv() bool {
	v := os.Getenv("CHAOS_LONG")
	return v != "" && v != "0"
}

// settings are the suite's size, from the environment.
type settings struct {
	long bool
	// cycles: the short run's number of cycles (CHAOS_CYCLES, 7: two
	// faults a cycle, every kind once).
	cycles int
	// the long run goes on until both are reached.
	minLifecycles, minKills int
	// maxCycles bounds the long run (it stops, and says so, when a
	// component can no longer be killed, say).
	maxCycles int
	// settle bounds the wait for the system to recover after a cycle.
	settle time.Duration
	seed   int64
}

func loadSettings() settings {
	s := settings{cycles: 7, minLifecycles: 200, minKills: 20, maxCycles: 400, settle: 3 * time.Minute}
	if longFromEnv() {
		s.long = true
	}
	if v := os.Getenv("CHAOS_CYCLES"); v != "" {
		n, err := strconv.Atoi(v)
		Expect(err).NotTo(HaveOccurred(), "CHAOS_CYCLES")
		s.cycles = n
	}
	// The long run's goals, for a shorter long run (CHAOS_MIN_LIFECYCLES,
	// CHAOS_MIN_KILLS).
	for _, v := range []struct {
		env string
		to  *int
	}{{"CHAOS_MIN_LIFECYCLES", &s.minLifecycles}, {"CHAOS_MIN_KILLS", &s.minKills}} {
		if e := os.Getenv(v.env); e != "" {
			n, err := strconv.Atoi(e)
			Expect(err).NotTo(HaveOccurred(), v.env)
			*v.to = n
		}
	}
	s.seed = time.Now().UnixNano() % 1_000_000_000
	if v := os.Getenv("CHAOS_SEED"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		Expect(err).NotTo(HaveOccurred(), "CHAOS_SEED")
		s.seed = n
	}
	return s
}

var cfg settings

// crashLoopBackOffMax caps the chaos lab's kubelets' restart back-off.
const crashLoopBackOffMax = 20 * time.Second

var _ = BeforeSuite(func(ctx SpecContext) {
	if os.Getenv("CHAOS") == "" && os.Getenv("CHAOS_LONG") == "" {
		Skip("the chaos suite runs with CHAOS=1 (make chaos-short) or CHAOS_LONG=1 (make chaos)")
	}
	if os.Geteuid() != 0 {
		Skip("needs root: the lab makes network namespaces, cgroups and runs containerd")
	}
	for _, bin := range []string{"containerd", "runc", "ctr", "busybox", "nsenter"} {
		if _, err := exec.LookPath(bin); err != nil {
			Skip(bin + " not installed (Debian's containerd, runc, busybox-static; hack/install-deps.sh installs them)")
		}
	}
	// Until the lab is up, a failure keeps its logs (AfterSuite).
	suiteFailed = true
	cfg = loadSettings()
	rnd = rand.New(rand.NewSource(cfg.seed))
	rec = newRecorder(cfg.seed, cfg.long)
	mode := fmt.Sprintf("short: %d cycles", cfg.cycles)
	if cfg.long {
		mode = fmt.Sprintf("long: until %d pod lifecycles and %d kills of each component", cfg.minLifecycles, cfg.minKills)
	}
	fmt.Fprintf(logOut, "chaos: seed %d (CHAOS_SEED=%d reproduces the choices), %s\n", cfg.seed, cfg.seed, mode)

	var err error
	repo, err = filepath.Abs("../..")
	Expect(err).NotTo(HaveOccurred())
	labDir, err = os.MkdirTemp("", "kontrail-chaos-")
	Expect(err).NotTo(HaveOccurred())
	// Its own lab beside make test's (klabe, klabb, klabs).
	name, subnet := "klabc", "10.93.0"
	if v := os.Getenv("CHAOS_LAB"); v != "" {
		name, subnet, _ = strings.Cut(v, ",")
	}
	// The long run kills each component 20 times within the hour: kubelet's
	// crash-loop back-off doubles from 10 s up to 5 min (reset only after
	// 10 min of running), so a component killed for the sixth time would
	// wait 5 min before it runs again, and the run would measure kubelet.
	// The lab's kubelets cap it (Kubernetes' KubeletCrashLoopBackOffMax,
	// beta and on since 1.35), so that a cycle settles within cfg.settle.
	theLab = &lab.Lab{Name: name, Dir: labDir, K8sBin: filepath.Join(repo, "bin", "k8s"), Subnet: subnet,
		CrashLoopBackOffMax: crashLoopBackOffMax}
	node1, node2 = theLab.NodeName(1), theLab.NodeName(2)
	if d := os.Getenv("KUBEBUILDER_ASSETS"); d != "" {
		theLab.K8sBin = d
	}
	kubectl = filepath.Join(theLab.K8sBin, "kubectl")
	// A lab of this name left up before (Down waits until its links are gone).
	_ = theLab.Down()
	start := time.Now()
	Expect(theLab.Up(context.Background(), repo, "0.1.0", 2, lab.InstallDefault)).To(Succeed())
	fmt.Fprintf(logOut, "chaos: lab %s up with Kontrail in %s\n", name, time.Since(start).Round(time.Second))
	suiteFailed = false
}, NodeTimeout(20*time.Minute))

var _ = AfterSuite(func() {
	stopWatchers()
	if theLab == nil {
		return
	}
	if !suiteFailed && os.Getenv("CHAOS_KEEP") == "" {
		Expect(theLab.Down()).To(Succeed())
		Expect(os.RemoveAll(labDir)).To(Succeed())
		return
	}
	// A spec failed (a violation, or the suite itself): the evidence
	// (every process's and pod's log) is kept before the lab goes.
	if dir, err := theLab.KeepLogs(); err != nil {
		fmt.Fprintf(os.Stderr, "the lab's logs, kept in part in %s: %v\n", dir, err)
	} else {
		fmt.Fprintf(os.Stderr, "the lab's logs are kept in %s\n", dir)
	}
	if os.Getenv("CHAOS_KEEP") != "" {
		fmt.Fprintf(os.Stderr, "CHAOS_KEEP: the lab stays up: KUBECONFIG=%s\n", theLab.Kubeconfig())
		return
	}
	// The logs are kept; what is left in the lab's directory (its
	// binaries and images, 250 MB) is not evidence: a suite that fails on
	// violations would otherwise leave one per run.
	if err := theLab.Down(); err == nil {
		_ = os.RemoveAll(labDir)
	}
})

var _ = ReportAfterEach(func(r SpecReport) {
	if r.Failed() {
		suiteFailed = true
	}
})

// run runs kubectl as the lab's admin; out holds stdout and stderr.
func run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", theLab.Kubeconfig()}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// runOut runs kubectl and returns its stdout alone (JSON to parse), with
// stderr in the error.
func runOut(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", theLab.Kubeconfig()}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// k runs kubectl and expects it to succeed.
func k(args ...string) string {
	GinkgoHelper()
	out, err := run(args...)
	Expect(err).NotTo(HaveOccurred(), "kubectl %s: %s", strings.Join(args, " "), out)
	return out
}

// kIn runs kubectl with stdin.
func kIn(stdin string, args ...string) (string, error) {
	cmd := exec.Command(kubectl, append([]string{"--kubeconfig", theLab.Kubeconfig()}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// apply applies YAML.
func apply(yaml string) string {
	GinkgoHelper()
	out, err := kIn(yaml, "apply", "-f", "-")
	Expect(err).NotTo(HaveOccurred(), out)
	return out
}

// logf prints a progress line with the time.
func logf(format string, args ...any) {
	fmt.Fprintf(logOut, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
