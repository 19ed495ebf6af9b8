// Command kontrail-conformance runs Kubernetes' own e2e suite on the lab:
// it brings a lab up with Kontrail installed (its own name and fabric, so
// that it runs beside `make demo`), builds the images the selected tests
// run under their upstream names, runs e2e.test through the ginkgo CLI on
// parallel processes, focused on the [sig-network] [Conformance] tests
// (the DNS conformance tests among them), prints passed, failed and
// skipped, and writes the report (docs/conformance.md for `make
// conformance`): the command, the versions, every selected test with its
// result, and the reason for every skip. It exits non-zero when a selected
// test fails, or when none ran.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/kontrail/kontrail/tests/internal/lab"
)

// DefaultFocus selects every [sig-network] test tagged [Conformance]: the
// DNS conformance tests are [sig-network] tests.
const DefaultFocus = `\[sig-network\].*\[Conformance\]`

type options struct {
	repo, dir, name, subnet, e2eBin, focus, skip, report, command string
	nodes, procs                                                  int
	keep, reuse                                                   bool
	timeout                                                       time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.repo, "repo", ".", "The repository's top directory.")
	flag.StringVar(&o.dir, "dir", ".lab-conformance", "The lab's directory.")
	flag.StringVar(&o.name, "name", "klabf", "The lab's name (its namespaces, bridge and cgroups).")
	flag.StringVar(&o.subnet, "subnet", "10.92.0", "The lab's fabric, first three octets.")
	flag.IntVar(&o.nodes, "nodes", 2, "Nodes of the lab.")
	flag.StringVar(&o.e2eBin, "e2e-bin", "bin/conformance", "Where hack/build-conformance.sh put e2e.test, agnhost and ginkgo.")
	flag.StringVar(&o.focus, "focus", DefaultFocus, "The tests to run (a regular expression on their full text).")
	flag.StringVar(&o.skip, "skip", "", "The selected tests not to run (a regular expression; each is reported as skipped by this flag).")
	flag.IntVar(&o.procs, "procs", 4, "Parallel ginkgo processes (the tests mostly wait on the cluster).")
	flag.DurationVar(&o.timeout, "timeout", 90*time.Minute, "The suite's timeout.")
	flag.StringVar(&o.report, "report", "", "Where to write the Markdown report (empty: none).")
	flag.StringVar(&o.command, "command", "make conformance", "The command named in the report.")
	flag.BoolVar(&o.keep, "keep", false, "Leave the lab up afterwards.")
	flag.BoolVar(&o.reuse, "reuse", false, "Run on the lab of --dir that is up (a --keep run's) instead of bringing one up; implies --keep.")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "kontrail-conformance:", err)
		os.Exit(1)
	}
}

func run(o options) (err error) {
	if os.Geteuid() != 0 {
		return fmt.Errorf("the lab needs root")
	}
	for _, p := range []*string{&o.repo, &o.dir, &o.e2eBin} {
		if *p, err = filepath.Abs(*p); err != nil {
			return err
		}
	}
	if o.report != "" && !filepath.IsAbs(o.report) {
		o.report = filepath.Join(o.repo, o.report)
	}
	focus, err := regexp.Compile(o.focus)
	if err != nil {
		return fmt.Errorf("--focus: %w", err)
	}
	var skip *regexp.Regexp
	if o.skip != "" {
		if skip, err = regexp.Compile(o.skip); err != nil {
			return fmt.Errorf("--skip: %w", err)
		}
	}
	l := &lab.Lab{Name: o.name, Dir: o.dir, K8sBin: filepath.Join(o.repo, "bin", "k8s"), Subnet: o.subnet}
	ctx := context.Background()
	start := time.Now()
	if o.reuse {
		o.keep = true
		if _, err := os.Stat(l.Kubeconfig()); err != nil {
			return fmt.Errorf("--reuse: no lab in %s: %w", o.dir, err)
		}
	} else if err := l.Up(ctx, o.repo, "0.1.0", o.nodes, lab.InstallDefault); err != nil {
		return fmt.Errorf("lab up: %w (logs in %s)", err, filepath.Join(o.dir, "logs"))
	}
	if !o.keep {
		defer func() {
			if err != nil {
				if dir, kerr := l.KeepLogs(); kerr == nil && dir != "" {
					fmt.Println("kontrail-conformance: the lab's logs are kept in", dir)
				}
			}
			if derr := l.Down(); derr != nil && err == nil {
				err = derr
			}
		}()
	}
	tarballs, err := l.BuildConformanceImages(o.e2eBin)
	if err != nil {
		return err
	}
	if _, err := l.ReimportImages(ctx, tarballs); err != nil {
		return err
	}
	if err := l.ReloadRegistry(ctx); err != nil {
		return err
	}
	fmt.Printf("kontrail-conformance: lab %s up with the e2e images (%s)\n", o.name, time.Since(start).Round(time.Second))

	out := filepath.Join(o.dir, "conformance")
	_ = os.RemoveAll(out)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	args := []string{"--procs", fmt.Sprint(o.procs), "--timeout", o.timeout.String(), "--focus", o.focus,
		"--no-color", "--output-dir", out, "--json-report", "report.json", "--junit-report", "junit.xml"}
	if o.skip != "" {
		args = append(args, "--skip", o.skip)
	}
	args = append(args, filepath.Join(o.e2eBin, "e2e.test"), "--",
		"--kubeconfig", l.Kubeconfig(), "--provider", "local", "--report-dir", out,
		"--kubectl-path", filepath.Join(l.K8sBin, "kubectl"), "--dns-domain", lab.ClusterDomain,
		// The lab's nodes are network namespaces of one machine: no SSH.
		"--e2e-verify-service-account=true")
	cmd := exec.CommandContext(ctx, filepath.Join(o.e2eBin, "ginkgo"), args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	// Outside any Go module: the CLI compares its version with the ginkgo
	// of the module it runs in, and the suite's is hack/conformance's.
	cmd.Dir = out
	cmd.Env = append(os.Environ(), "KUBECONFIG="+l.Kubeconfig(), "PATH="+l.K8sBin+":"+os.Getenv("PATH"))
	fmt.Printf("kontrail-conformance: %s %s\n", cmd.Path, strings.Join(args, " "))
	suiteStart := time.Now()
	runErr := cmd.Run()
	elapsed := time.Since(suiteStart)

	data, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		return fmt.Errorf("the suite wrote no report (%v): %w", runErr, err)
	}
	var reports []types.Report
	if err := json.Unmarshal(data, &reports); err != nil {
		return fmt.Errorf("report.json: %w", err)
	}
	results := Select(reports, focus, skip)
	sum := Summarize(results)
	fmt.Printf("\nkontrail-conformance: %d selected: %d passed, %d failed, %d skipped (%s)\n",
		len(results), sum.Passed, sum.Failed, sum.Skipped, elapsed.Round(time.Second))
	for _, r := range results {
		if r.Result != Passed {
			fmt.Printf("  %s  %s  %s\n", r.Result, r.Name, r.Note)
		}
	}
	if o.report != "" {
		v, err := versions(o, l)
		if err != nil {
			return err
		}
		md := Markdown(results, Run{Command: o.command, Focus: o.focus, Skip: o.skip, Procs: o.procs, Nodes: o.nodes,
			Elapsed: elapsed, Versions: v, Images: images})
		if err := os.WriteFile(o.report, []byte(md), 0o644); err != nil {
			return err
		}
		fmt.Println("kontrail-conformance: report written to", o.report)
	}
	switch {
	case len(results) == 0:
		return fmt.Errorf("no test matched %q (ginkgo: %v)", o.focus, runErr)
	case sum.Failed > 0:
		return fmt.Errorf("%d of %d selected tests failed", sum.Failed, len(results))
	case runErr != nil:
		return fmt.Errorf("ginkgo: %w", runErr)
	}
	return nil
}

// images says what the lab's e2e images hold, against upstream's.
var images = [][2]string{
	{lab.AgnhostImage, "agnhost built from k8s.io/kubernetes/test/images/agnhost at the lab's version, with busybox's applets, " +
		"Debian's dash as /bin/sh, curl, dig, getent, netcat-openbsd, ss and bash (upstream's image is Alpine: its `musl` DNS probes run glibc's getent here) and CoreDNS"},
	{lab.GlibcDNSTestingImage, "the same userland without agnhost: Debian bookworm's dash, dig and getent (upstream's: Debian bookworm with dnsutils)"},
	{lab.E2EBusyboxImage, "Debian's busybox-static"},
	{lab.E2EPauseImage, "the lab's pause (tests/cmd/kontrail-pause)"},
}

// versions names what ran: Kubernetes (the lab's and e2e.test's), the
// ginkgo CLI, CoreDNS, kube-proxy's mode and Kontrail's commit.
func versions(o options, l *lab.Lab) ([][2]string, error) {
	stamp := func(path string) string {
		data, _ := os.ReadFile(path)
		return strings.TrimSpace(string(data))
	}
	e2e, err := exec.Command(filepath.Join(o.e2eBin, "e2e.test"), "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("e2e.test --version: %w", err)
	}
	commit, _ := exec.Command("git", "-C", o.repo, "describe", "--always", "--dirty").Output()
	return [][2]string{
		{"e2e.test", strings.TrimSpace(string(e2e)) + " (k8s.io/kubernetes/test/e2e, `go test -c`; " + stamp(filepath.Join(o.e2eBin, ".versions")) + ")"},
		{"Lab binaries", stamp(filepath.Join(l.K8sBin, ".versions"))},
		{"kube-proxy", "nftables mode, a DaemonSet as kubeadm runs it"},
		{"Kontrail", strings.TrimSpace(string(commit)) + ", installed from config/default by its operator"},
		{"Nodes", fmt.Sprintf("%d (network namespaces of one machine, each with containerd and kubelet)", o.nodes)},
	}, nil
}
