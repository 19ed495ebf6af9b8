// Command kontrail-bench runs Kontrail's benchmarks side by side with the
// reference stack in one run and prints one table: the median of several
// repetitions with min and max, and each target met or not. It writes the
// table, with the machine's description, into docs/benchmarks.md between
// its markers. `make bench` runs it (as root).
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	repo := flag.String("repo", ".", "the repository's root")
	count := flag.Int("count", 3, "repetitions of each benchmark")
	samples := flag.Int("samples", 100, "ADD/DEL samples per repetition")
	doc := flag.String("doc", "docs/benchmarks.md", "file whose generated section gets the table (\"\" for none)")
	scalePods := flag.Int("scale-pods", 10000, "pods of the scale run (BenchmarkPodScale), once; 0 skips it")
	flag.Parse()
	if err := run(*repo, *count, *samples, *scalePods, *doc); err != nil {
		fmt.Fprintln(os.Stderr, "kontrail-bench:", err)
		os.Exit(1)
	}
}

func run(repo string, count, samples, scalePods int, doc string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root: the benchmarks make network namespaces")
	}
	start := time.Now()
	results, failures := results{}, failures{}
	// Each group runs whatever an earlier one did; a failing benchmark is
	// reported in its rows, and the table is written with every row.
	type group struct {
		pattern, benchtime, what string
		benches                  []string
		// count: repetitions (count when 0); env: the go test's.
		count int
		env   []string
	}
	groups := []group{
		{"^(BenchmarkCNIAddDel|BenchmarkMultusAddDel|BenchmarkBridgeAddDel)$", fmt.Sprintf("%dx", samples),
			fmt.Sprintf("%d× %d samples", count, samples), []string{"BenchmarkCNIAddDel", "BenchmarkMultusAddDel", "BenchmarkBridgeAddDel"}, 0, nil},
		// The control plane runs as processes (their peak RSS is their
		// own): a go test process of its own.
		{"^(BenchmarkPodBurst|BenchmarkPodLatency)$", "1x", fmt.Sprintf("%d×", count), []string{"BenchmarkPodBurst", "BenchmarkPodLatency"}, 0, nil},
		{"^BenchmarkThroughput$", "1x", fmt.Sprintf("iperf3, 10 s per run, %d×", count), throughputBenches(), 0, nil},
	}
	if scalePods > 0 {
		// Its own process (a fresh apiserver), once: it takes ~20 minutes.
		groups = append(groups, group{"^BenchmarkPodScale$", "1x", fmt.Sprintf("%d pods, once", scalePods),
			[]string{"BenchmarkPodScale"}, 1, []string{fmt.Sprintf("BENCH_SCALE_PODS=%d", scalePods)}})
	}
	for _, g := range groups {
		fmt.Fprintf(os.Stderr, "running %s (%s) ...\n", g.pattern, g.what)
		out, err := goBench(filepath.Join(repo, "tests"), g.pattern, g.benchtime, cmp.Or(g.count, count), g.env)
		parse(out, results, failures)
		if err != nil {
			for _, bench := range g.benches {
				if _, ok := failures[bench]; !ok && len(results[bench]) == 0 {
					failures[bench] = err.Error()
				}
			}
		}
	}
	for bench, metric := range map[string]string{"BenchmarkCNIAddDel": "samples", "BenchmarkMultusAddDel": "samples",
		"BenchmarkBridgeAddDel": "samples", "BenchmarkPodBurst": "pods/s", "BenchmarkPodLatency": "pods"} {
		failures.incomplete(results, bench, metric, count)
	}
	for _, bench := range throughputBenches() {
		failures.incomplete(results, bench, "gbit/s-1stream", count)
	}
	if scalePods > 0 {
		failures.incomplete(results, "BenchmarkPodScale", "pods/s", 1)
	} else {
		failures["BenchmarkPodScale"] = "not run (--scale-pods 0)"
	}
	table := render(results, failures, count, time.Since(start))
	fmt.Print(table)
	if doc != "" {
		if err := writeSection(filepath.Join(repo, doc), machine()+"\n"+table); err != nil {
			return err
		}
	}
	if len(failures) > 0 {
		return fmt.Errorf("%d benchmarks failed (their rows say why): %s", len(failures), strings.Join(slices.Sorted(maps.Keys(failures)), ", "))
	}
	return nil
}

// results: benchmark -> metric -> one value per repetition.
type results map[string]map[string][]float64

// failures: benchmark -> why it has no (or not every) figure.
type failures map[string]string

// incomplete records a benchmark that ran fewer than count times.
func (f failures) incomplete(r results, bench, metric string, count int) {
	if _, ok := f[bench]; ok {
		return
	}
	if got := len(r[bench][metric]); got != count {
		f[bench] = fmt.Sprintf("ran %d of %d times", got, count)
	}
}

var (
	benchLine = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+\d+\s+(.*)$`)
	// failLine is go test's line for a failed benchmark; the lines after
	// it, indented, are what it logged (file:line: message).
	failLine = regexp.MustCompile(`^\s*--- FAIL: (Benchmark\S+?)(-\d+)?(\s|$)`)
	logLine  = regexp.MustCompile(`^\s+\S+\.go:\d+: (.*)$`)
)

// goBench runs `go test -bench` in dir and returns its output.
func goBench(dir, pattern, benchtime string, count int, env []string) (string, error) {
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", pattern, "-benchtime", benchtime,
		"-count", strconv.Itoa(count), "-timeout", "120m", "./bench/")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout = io.MultiWriter(&out, os.Stderr)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("go test -bench %s: %w", pattern, err)
	}
	return out.String(), nil
}

// parse collects every metric go test's output reports, and for each
// failed benchmark the first message it logged.
func parse(out string, into results, failed failures) {
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	failing := ""
	for sc.Scan() {
		line := sc.Text()
		if m := failLine.FindStringSubmatch(line); m != nil {
			failing = m[1]
			if _, ok := failed[failing]; !ok {
				failed[failing] = "failed (its output above)"
			}
			continue
		}
		if failing != "" {
			if m := logLine.FindStringSubmatch(line); m != nil {
				if failed[failing] == "failed (its output above)" {
					failed[failing] = m[1]
				}
				continue
			}
			failing = ""
		}
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		fields := strings.Fields(m[3])
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			if into[m[1]] == nil {
				into[m[1]] = map[string][]float64{}
			}
			into[m[1]][fields[i+1]] = append(into[m[1]][fields[i+1]], v)
		}
	}
}

func throughputBenches() []string {
	var benches []string
	for _, p := range throughputPaths {
		benches = append(benches, "BenchmarkThroughput/"+p.bench)
	}
	return benches
}

// throughputPaths are BenchmarkThroughput's sub-benchmarks, in table order.
var throughputPaths = []struct{ bench, label string }{
	{"veth", "plain veth pair between two namespaces (the limit)"},
	{"hand-built-overlay", "hand-built bridge + VXLAN, across nodes, MTU 1450 (the naive design)"},
	{"kontrail-same-node", "Kontrail, same node"},
	{"kontrail-cross-node", "Kontrail, across nodes (VXLAN overlay, MTU 1450)"},
}

// stat is the median, min and max of a metric's repetitions.
type stat struct{ median, min, max float64 }

func (r results) stat(bench, metric string) (stat, bool) {
	vs := slices.Clone(r[bench][metric])
	if len(vs) == 0 {
		return stat{}, false
	}
	slices.Sort(vs)
	med := vs[len(vs)/2]
	if len(vs)%2 == 0 {
		med = (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
	}
	return stat{med, vs[0], vs[len(vs)-1]}, true
}

func (s stat) String() string {
	return fmt.Sprintf("%s (%s–%s)", num(s.median), num(s.min), num(s.max))
}

// addWaitMS is how long the agent waits for a pod's allocation before the
// ADD fails (vrouter/agent/resolve.go, the conflist's default): a pod
// whose ADD failed is "later than" it.
const addWaitMS = 60000

func num(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "> " + strconv.Itoa(addWaitMS)
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// render prints the table: one row per measure, the systems side by side,
// then the targets.
func render(r results, failed failures, count int, took time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Median of %d repetitions (min–max); ms unless said.\n\n", count)
	b.WriteString("| pod plumbing (CNI through libcni, fresh netns) | Kontrail, 3 interfaces | Multus v4 + bridge + host-local, 3 interfaces | bridge + host-local, 1 interface (floor) |\n")
	b.WriteString("| --- | --- | --- | --- |\n")
	rows := []struct{ label, metric string }{
		{"ADD p50", "p50-add-ms"}, {"ADD p90", "p90-add-ms"}, {"ADD p99", "p99-add-ms"},
		{"DEL p50", "p50-del-ms"}, {"DEL p99", "p99-del-ms"}, {"ADD+DEL p50, back to back", "p50-add+del-ms"},
		{"samples per repetition", "samples"},
	}
	cell := func(bench, metric string) string {
		s, ok := r.stat(bench, metric)
		switch why, bad := failed[bench]; {
		case ok && bad:
			return s.String() + " (" + failedCell(why) + ")"
		case ok:
			return s.String()
		case bad:
			return failedCell(why)
		}
		return "–"
	}
	for _, row := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", row.label, cell("BenchmarkCNIAddDel", row.metric),
			cell("BenchmarkMultusAddDel", row.metric), cell("BenchmarkBridgeAddDel", row.metric))
	}

	b.WriteString("\n| target | measured | met |\n| --- | --- | --- |\n")
	target := func(name string, got, limit float64, ok bool) { check(&b, name, got, limit, ok, true) }
	kAdd50, ok1 := r.stat("BenchmarkCNIAddDel", "p50-add-ms")
	kAdd99, ok2 := r.stat("BenchmarkCNIAddDel", "p99-add-ms")
	kDel50, ok3 := r.stat("BenchmarkCNIAddDel", "p50-del-ms")
	mAdd50, ok4 := r.stat("BenchmarkMultusAddDel", "p50-add-ms")
	mDel50, ok5 := r.stat("BenchmarkMultusAddDel", "p50-del-ms")
	target("3-interface ADD p50 ≤ ⅓ of Multus's ADD p50", kAdd50.median, mAdd50.median/3, ok1 && ok4)
	target("3-interface ADD p99 ≤ Multus's ADD p50", kAdd99.median, mAdd50.median, ok2 && ok4)
	target("3-interface DEL p50 ≤ ⅓ of Multus's DEL p50", kDel50.median, mDel50.median/3, ok3 && ok5)

	b.WriteString("\n| control plane: 1,000 pods with two NADs each, created at once | pods/s | seconds |\n| --- | --- | --- |\n")
	fmt.Fprintf(&b, "| Kontrail: until every pod has its network-status (controller and kubemanager at their defaults) | %s | %s |\n",
		cell("BenchmarkPodBurst", "pods/s"), cell("BenchmarkPodBurst", "s/1000pods"))
	fmt.Fprintf(&b, "| floor: an unthrottled client creating as many objects as Kontrail made for them, same apiserver and admission | %s | %s |\n",
		cell("BenchmarkPodBurst", "floor-pods/s"), cell("BenchmarkPodBurst", "floor-s/1000pods"))
	fmt.Fprintf(&b, "| ratio (Kontrail / floor) | %s | |\n", cell("BenchmarkPodBurst", "ratio-to-floor"))

	b.WriteString("\n| apiserver writes per pod during the burst (its apiserver_request_total; every writer, the bench's own pod creates left out) | writes/pod |\n| --- | --- |\n")
	fmt.Fprintf(&b, "| all | %s |\n", cell("BenchmarkPodBurst", "writes/pod"))
	var byWhat []string
	for metric := range r["BenchmarkPodBurst"] {
		if strings.HasPrefix(metric, "writes/pod:") {
			byWhat = append(byWhat, metric)
		}
	}
	slices.SortFunc(byWhat, func(x, y string) int {
		sx, _ := r.stat("BenchmarkPodBurst", x)
		sy, _ := r.stat("BenchmarkPodBurst", y)
		return cmp.Or(cmp.Compare(sy.median, sx.median), strings.Compare(x, y))
	})
	for _, metric := range byWhat {
		resource, verb, _ := strings.Cut(strings.TrimPrefix(metric, "writes/pod:"), ":")
		fmt.Fprintf(&b, "| %s %s | %s |\n", verb, resource, cell("BenchmarkPodBurst", metric))
	}

	fmt.Fprintf(&b, "\n| pod networking latency at a steady 20 pods/s: creation to a successful CNI ADD | %s |\n| --- | --- |\n", "ms")
	for _, q := range []string{"p50", "p90", "p99"} {
		fmt.Fprintf(&b, "| %s | %s |\n", q, cell("BenchmarkPodLatency", q+"-ms"))
	}
	fmt.Fprintf(&b, "| pods per repetition | %s |\n", cell("BenchmarkPodLatency", "pods"))
	fmt.Fprintf(&b, "| of them, ADDs that failed (counted as later than the %d ms the agent waits) | %s |\n", addWaitMS, cell("BenchmarkPodLatency", "failed-adds"))

	b.WriteString("\n| scale and restarts, with the run's pods in place | 1,000-pod burst | " + scaleLabel(r) + " |\n| --- | --- | --- |\n")
	for _, row := range []struct{ label, metric string }{
		{"pods/s until every pod has its network-status", "pods/s"},
		{"controller peak RSS, MiB", "controller-peak-MiB"},
		{"kubemanager peak RSS, MiB", "kubemanager-peak-MiB"},
		{"vrouter agent peak RSS (the larger of two nodes), MiB", "agent-peak-MiB"},
		{"controller's cold start: SIGTERM, then a new process (its caches listed from nothing), to a new pod's network-status, s", "controller-restart-s"},
		{"controller rollout: a second replica started beside the leader, to its readiness (its caches synced), s", "controller-standby-ready-s"},
		{"controller's leader start in that rollout: the leader's SIGTERM to a new pod's network-status (the lease, every allocation rebuilt from the apiserver, the pod's allocation), s", "controller-leader-start-s"},
		{"kubemanager restart to a new pod's network-status, s", "kubemanager-restart-s"},
		{"vrouter agent killed and started again, to a CNI ADD that succeeds on its node, s", "agent-restart-s"},
	} {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", row.label, cell("BenchmarkPodBurst", row.metric), cell("BenchmarkPodScale", row.metric))
	}

	b.WriteString("\n| footprint | |\n| --- | --- |\n")
	for _, f := range []struct{ label, bench, metric string }{
		{"plugin binary (static, stripped), MiB", "BenchmarkCNIAddDel", "plugin-MiB"},
		{"plugin start-up (exec to answer, VERSION), ms", "BenchmarkCNIAddDel", "plugin-startup-ms"},
	} {
		fmt.Fprintf(&b, "| %s | %s |\n", f.label, cell(f.bench, f.metric))
	}

	b.WriteString("\n| target | measured | met |\n| --- | --- | --- |\n")
	burst, okB := r.stat("BenchmarkPodBurst", "pods/s")
	floor, okF := r.stat("BenchmarkPodBurst", "floor-pods/s")
	atLeastFirst := func(name string, got, limit float64, ok bool) { check(&b, name, got, limit, ok, false) }
	atLeastFirst("control plane, pods/s ≥ ½ of the floor's", burst.median, floor.median/2, okB && okF)
	lat99, okL := r.stat("BenchmarkPodLatency", "p99-ms")
	target("pod networking latency p99 ≤ 1,000 ms at 20 pods/s", lat99.median, 1000, okL)
	for _, c := range []struct{ name, metric string }{
		{"controller", "controller-peak-MiB"}, {"kubemanager", "kubemanager-peak-MiB"}, {"vrouter agent", "agent-peak-MiB"},
	} {
		rss, ok := r.stat("BenchmarkPodBurst", c.metric)
		target(c.name+" peak RSS < 200 MiB at 1,000 pods", rss.median, 200, ok)
		rss, ok = r.stat("BenchmarkPodScale", c.metric)
		target(c.name+" peak RSS < 1,024 MiB at "+scaleLabel(r), rss.median, 1024, ok)
	}
	leader, okS := r.stat("BenchmarkPodScale", "controller-leader-start-s")
	target("controller's leader start < 10 s at "+scaleLabel(r)+" (rollout)", leader.median, 10, okS)

	b.WriteString("\n| TCP throughput pod to pod, Gbit/s (iperf3, 10 s) | 1 stream | 4 streams | share of plain veth (1 / 4 streams) |\n| --- | --- | --- | --- |\n")
	veth1, okV1 := r.stat("BenchmarkThroughput/veth", "gbit/s-1stream")
	veth4, okV4 := r.stat("BenchmarkThroughput/veth", "gbit/s-4stream")
	for _, path := range throughputPaths {
		s1, ok1 := r.stat("BenchmarkThroughput/"+path.bench, "gbit/s-1stream")
		s4, ok4 := r.stat("BenchmarkThroughput/"+path.bench, "gbit/s-4stream")
		if !ok1 || !ok4 {
			c := cell("BenchmarkThroughput/"+path.bench, "gbit/s-1stream")
			fmt.Fprintf(&b, "| %s | %s | %s | – |\n", path.label, c, c)
			continue
		}
		share := "–"
		if okV1 && okV4 {
			share = fmt.Sprintf("%.2f / %.2f", s1.median/veth1.median, s4.median/veth4.median)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", path.label, s1, s4, share)
	}
	b.WriteString("\n| target | measured | met |\n| --- | --- | --- |\n")
	atLeast := func(name string, got, floor float64, ok bool) { check(&b, name, got, floor, ok, false) }
	k1, okK := r.stat("BenchmarkThroughput/kontrail-cross-node", "gbit/s-1stream")
	h1, okH := r.stat("BenchmarkThroughput/hand-built-overlay", "gbit/s-1stream")
	atLeast("cross-node, 1 stream ≥ the hand-built overlay's", k1.median, h1.median, okK && okH)
	atLeast("cross-node, 1 stream ≥ 70% of plain veth (the aim)", k1.median, 0.7*veth1.median, okK && okV1)
	fmt.Fprintf(&b, "\n(`make bench`, %s)\n", took.Round(time.Second))
	return b.String()
}

// failedCell is a failure's reason, fit for a table cell.
func failedCell(why string) string {
	why = strings.NewReplacer("|", "/", "\n", " ").Replace(why)
	if r := []rune(why); len(r) > 160 {
		why = string(r[:160]) + "…"
	}
	return "**failed**: " + why
}

// check writes a target's row: got against limit, at most (atMost) or at
// least.
func check(b *strings.Builder, name string, got, limit float64, ok, atMost bool) {
	if !ok {
		fmt.Fprintf(b, "| %s | – | not measured |\n", name)
		return
	}
	op, met := "≤", got <= limit
	if !atMost {
		op, met = "≥", got >= limit
	}
	verdict := "met"
	if !met {
		verdict = "**not met**"
	}
	fmt.Fprintf(b, "| %s | %s %s %s | %s |\n", name, num(got), op, num(limit), verdict)
}

// machine describes where the table was measured.
func machine() string {
	cpu := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb float64
		if _, err := fmt.Sscanf(string(data), "MemTotal: %f kB", &kb); err == nil {
			mem = fmt.Sprintf(", %.0f GiB", kb/(1<<20))
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return fmt.Sprintf("Machine: %d cores (%s)%s, Linux %s, %s, measured %s.\n", runtime.NumCPU(), cpu, mem,
		strings.TrimSpace(string(kernel)), runtime.Version(), time.Now().UTC().Format("2006-01-02"))
}

const (
	beginMarker = "<!-- make bench: begin (generated by tests/cmd/kontrail-bench; do not edit) -->"
	endMarker   = "<!-- make bench: end -->"
)

// writeSection replaces the text between the markers of path (appended at
// its end the first time).
func writeSection(path, section string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	text := string(data)
	block := beginMarker + "\n" + section + endMarker
	i, j := strings.Index(text, beginMarker), strings.Index(text, endMarker)
	if i >= 0 && j > i {
		text = text[:i] + block + text[j+len(endMarker):]
	} else {
		text = strings.TrimRight(text, "\n") + "\n\n## make bench\n\n" + block + "\n"
	}
	return os.WriteFile(path, []byte(text), 0o644)
}

// scaleLabel names the scale run by its size.
func scaleLabel(r results) string {
	if n, ok := r.stat("BenchmarkPodScale", "pods"); ok {
		return fmt.Sprintf("%s pods", thousands(int(n.median)))
	}
	return "the scale run"
}

// thousands writes n with comma separators: 10000 -> 10,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
