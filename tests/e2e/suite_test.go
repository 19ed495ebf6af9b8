// Package e2e replays the seeds — the users' own kubectl sessions — on a
// lab brought up once for the suite (tests/internal/lab: a control plane
// and two containerd/kubelet nodes, Kontrail installed by its operator).
// Needs root. E2E_INSTALL=bundle installs from the OLM bundle instead of
// config/default. docs/e2e.md maps each seed step to its spec.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
	// suiteFailed says a spec failed: what it left is not a leak.
	suiteFailed bool
	// labUp says the lab came up (BeforeSuite passed).
	labUp bool
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(90 * time.Second)
	SetDefaultEventuallyPollingInterval(500 * time.Millisecond)
	RunSpecs(t, "E2E")
}

var _ = BeforeSuite(func(ctx SpecContext) {
	if os.Geteuid() != 0 {
		Skip("needs root: the lab makes network namespaces, cgroups and runs containerd")
	}
	for _, bin := range []string{"containerd", "runc", "ctr", "busybox", "nsenter"} {
		if _, err := exec.LookPath(bin); err != nil {
			Skip(bin + " not installed (Debian's containerd, runc, busybox-static; hack/install-deps.sh installs them)")
		}
	}
	var err error
	repo, err = filepath.Abs("../..")
	Expect(err).NotTo(HaveOccurred())
	labDir, err = os.MkdirTemp("", "kontrail-e2e-")
	Expect(err).NotTo(HaveOccurred())
	install := os.Getenv("E2E_INSTALL")
	if install == "" {
		install = lab.InstallDefault
	}
	// Each install mode its own lab: make test runs both, and a lab of
	// one may still be going down when the other comes up.
	name, subnet := "klabe", "10.95.0"
	if install == lab.InstallBundle {
		name, subnet = "klabb", "10.94.0"
	}
	if v := os.Getenv("E2E_LAB"); v != "" { // another lab beside make test's (name,subnet)
		name, subnet, _ = strings.Cut(v, ",")
	}
	theLab = &lab.Lab{Name: name, Dir: labDir, K8sBin: filepath.Join(repo, "bin", "k8s"), Subnet: subnet}
	node1, node2 = theLab.NodeName(1), theLab.NodeName(2)
	if d := os.Getenv("KUBEBUILDER_ASSETS"); d != "" {
		theLab.K8sBin = d
	}
	kubectl = filepath.Join(theLab.K8sBin, "kubectl")
	_ = theLab.Down()
	start := time.Now()
	Expect(theLab.Up(context.Background(), repo, "0.1.0", 2, install)).To(Succeed())
	labUp = true
	GinkgoWriter.Printf("lab up with Kontrail (%s) in %s\n", install, time.Since(start).Round(time.Second))
}, NodeTimeout(15*time.Minute))

var _ = AfterSuite(func() {
	if theLab == nil {
		return
	}
	var leaks []string
	if labUp && !suiteFailed {
		// A failed leak check still takes the lab down (below), then fails.
		leaks = InterceptGomegaFailures(func() {
			By("no leaks: the suite deleted its pods and networks, nothing of them is left in the API or on the nodes")
			Eventually(func() []string { return theLab.Leftovers(context.Background(), 2) }, "60s", "2s").Should(BeEmpty())
		})
	}
	if labUp && !suiteFailed && len(leaks) == 0 && os.Getenv("E2E_KEEP") == "" {
		Expect(theLab.Down()).To(Succeed())
		Expect(os.RemoveAll(labDir)).To(Succeed())
		return
	}
	// Something failed (the lab's start, a spec, the leak check): the
	// evidence (every process's and pod's log) is kept before the lab goes.
	if dir, err := theLab.KeepLogs(); err != nil {
		fmt.Fprintf(os.Stderr, "the lab's logs, kept in part in %s: %v\n", dir, err)
	} else {
		fmt.Fprintf(os.Stderr, "the lab's logs are kept in %s\n", dir)
	}
	if os.Getenv("E2E_KEEP") != "" {
		GinkgoWriter.Printf("E2E_KEEP: the lab stays up: KUBECONFIG=%s\n", theLab.Kubeconfig())
		return
	}
	_ = theLab.Down()
	if len(leaks) > 0 {
		Fail(strings.Join(leaks, "\n"))
	}
})

// Every spec starts from a working lab: the registry serving (pods pull
// busybox from it) and the four resources applied and Available. What an
// earlier spec broke is restored and said, so that one failure does not
// fail the specs after it for another reason.
var _ = BeforeEach(func(ctx SpecContext) {
	if theLab == nil {
		return
	}
	if err := theLab.RegistryServing(ctx); err != nil {
		GinkgoWriter.Printf("precondition: %v: starting it again\n", err)
		Expect(theLab.ReloadRegistry(ctx)).To(Succeed(), "the lab registry, which pods pull their images from")
	}
	// One look at the four resources; they are applied again and waited
	// for only when one is missing or not Available.
	available, _ := run("get", "apiservers,controllers,kubemanagers,vrouters", "-A", "-o",
		`jsonpath={range .items[*]}{.kind}/{.metadata.name}={.status.conditions[?(@.type=="Available")].status} {end}`)
	if strings.Count(available, "=True") == len(lab.Samples) && !strings.Contains(available, "=False") {
		return
	}
	GinkgoWriter.Printf("precondition: the stack is not all there or not Available (%s): applying the samples again\n", available)
	out := k("apply", "-k", filepath.Join(theLab.Dir, "install", "samples"))
	GinkgoWriter.Printf("%s", out)
	Expect(theLab.WaitAvailable(ctx, 3*time.Minute)).To(Succeed(), "the stack, before the spec")
}, NodeTimeout(5*time.Minute))

// A failed spec's pods that are not Ready are described before its
// cleanup deletes them: their conditions and every event (Normal ones
// too: an image pull or a sandbox that never ends has no Warning).
var _ = JustAfterEach(func() {
	if !CurrentSpecReport().Failed() || theLab == nil {
		return
	}
	out, _ := run("get", "pods", "-A", "-o",
		`jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}={.status.conditions[?(@.type=="Ready")].status} {end}`)
	for _, entry := range strings.Fields(out) {
		p, ready, _ := strings.Cut(entry, "=")
		if ready == "True" {
			continue
		}
		ns, name, _ := strings.Cut(p, "/")
		desc, _ := run("-n", ns, "describe", "pod", name)
		AddReportEntry("not Ready: "+p, desc)
	}
})

// ReportAfterEach dumps the lab's state when a spec fails.
var _ = ReportAfterEach(func(r SpecReport) {
	if r.Failed() {
		suiteFailed = true
	}
	if !r.Failed() || theLab == nil {
		return
	}
	out, _ := run("get", "pods", "-A", "-o", "wide")
	AddReportEntry("pods", out)
	for _, c := range []struct{ ns, selector string }{{"contrail", "app=contrail-k8s-kubemanager"}, {"contrail-system", "app=contrail-k8s-controller"},
		{"contrail", "app=contrail-vrouter-nodes"}} {
		logs, _ := run("-n", c.ns, "logs", "-l", c.selector, "--tail=40", "--prefix")
		AddReportEntry(c.selector, logs)
	}
	// What kubelet said of the pods that did not come up.
	events, _ := run("get", "events", "-A", "--field-selector=type=Warning", "--sort-by=.lastTimestamp")
	if lines := strings.Split(strings.TrimSpace(events), "\n"); len(lines) > 30 {
		events = strings.Join(lines[len(lines)-30:], "\n")
	}
	AddReportEntry("warning events", events)
})

// run runs kubectl as the lab's admin; out holds stdout and stderr (as
// the user sees them).
func run(args ...string) (string, error) {
	cmd := exec.Command(kubectl, append([]string{"--kubeconfig", theLab.Kubeconfig()}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
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

// applyFile applies a file of testdata, as the seed's user did.
func applyFile(path string) string {
	GinkgoHelper()
	return k("apply", "-f", filepath.Join("testdata", path))
}

// apply applies YAML.
func apply(yaml string) string {
	GinkgoHelper()
	out, err := kIn(yaml, "apply", "-f", "-")
	Expect(err).NotTo(HaveOccurred(), out)
	return out
}

// Row is one line of kubectl's table output, by column header.
type Row map[string]string

// table parses kubectl's table output: each column starts where its
// header starts (headers may hold a space: IP FAMILIES).
func table(out string) []Row {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 0 {
		return nil
	}
	header := lines[0]
	var starts []int
	var names []string
	for _, m := range regexp.MustCompile(`\S+(?: \S+)*`).FindAllStringIndex(header, -1) {
		starts = append(starts, m[0])
		names = append(names, header[m[0]:m[1]])
	}
	var rows []Row
	for _, line := range lines[1:] {
		if strings.TrimSpace(line) == "" {
			continue
		}
		row := Row{}
		for i, s := range starts {
			end := len(line)
			if i+1 < len(starts) && starts[i+1] < end {
				end = starts[i+1]
			}
			if s < len(line) {
				row[names[i]] = strings.TrimSpace(line[s:end])
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// rowsWhere are the rows whose column equals value.
func rowsWhere(rows []Row, column, value string) []Row {
	var out []Row
	for _, r := range rows {
		if r[column] == value {
			out = append(out, r)
		}
	}
	return out
}

// podIn runs a shell command in a pod's first container.
func podIn(pod, command string) (string, error) {
	return run("exec", pod, "--", "sh", "-c", command)
}

// deleteNamespaces deletes namespaces and waits until they are gone; when
// one is not gone in time, the failure says what it still holds (its
// status conditions name the resources and finalizers left).
func deleteNamespaces(names ...string) {
	GinkgoHelper()
	args := append([]string{"delete", "namespace", "--ignore-not-found", "--wait=true", "--timeout=2m"}, names...)
	if out, err := run(args...); err != nil {
		var left []string
		for _, n := range names {
			held, _ := run("get", "namespace", n, "--ignore-not-found", "-o",
				`jsonpath={range .status.conditions[?(@.status=="True")]}{.message}; {end}`)
			objects, _ := run("-n", n, "get", "network-attachment-definitions,virtualnetworks,subnets,virtualmachineinterfaces",
				"-o", "custom-columns=KIND:.kind,NAME:.metadata.name,FINALIZERS:.metadata.finalizers,STATE:.status.state,OBSERVATION:.status.observation")
			left = append(left, n+": "+held+"\n"+objects)
		}
		Fail(fmt.Sprintf("kubectl %s: %s\nwhat the namespaces still hold: %s", strings.Join(args, " "), out, strings.Join(left, "\n")))
	}
}
