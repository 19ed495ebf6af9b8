package chaos

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/kontrail/kontrail/tests/internal/lab"
)

// summary renders what the suite did and found.
func summary() string {
	var b strings.Builder
	rec.mu.Lock()
	mode := "short"
	if rec.long {
		mode = fmt.Sprintf("long (until %d pod lifecycles and %d kills of each component)", cfg.minLifecycles, cfg.minKills)
	}
	fmt.Fprintf(&b, "Kontrail chaos suite: summary\n")
	fmt.Fprintf(&b, "seed %d (CHAOS_SEED=%d reproduces the choices), %s run, lab %s, %s, %s\n", rec.seed, rec.seed, mode, theLab.Name,
		rec.start.Format("2006-01-02 15:04:05"), time.Since(rec.start).Round(time.Second))
	fmt.Fprintf(&b, "kubelets' crash-loop back-off capped at %s; a cycle settles within %s\n", theLab.CrashLoopBackOffMax, cfg.settle)
	fmt.Fprintf(&b, "cycles: %d (did not settle in time: %d)\n", rec.cycles, len(rec.notSettled))
	fmt.Fprintf(&b, "pod lifecycles: %d (pods that reached Running and were deleted; %d distinct pods seen); kernel checks of running pods: %d\n",
		rec.lifecycles, rec.podsSeen, rec.checks)
	counts := func(title string, m map[string]int, keys []string) {
		var parts []string
		total := 0
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
			total += m[k]
		}
		fmt.Fprintf(&b, "%s: %d (%s)\n", title, total, strings.Join(parts, ", "))
	}
	var names []string
	for _, c := range components {
		names = append(names, c.name)
	}
	counts("kills (SIGKILL of the process)", rec.kills, names)
	counts("evictions (pod deleted --grace-period=0 --force)", rec.evictions, names)
	counts("lab restarts (SIGKILL and start again)", rec.restarts, []string{"kube-apiserver", "etcd"})
	counts("faults per kind", rec.kinds, sortedKeys(rec.kinds))
	var notInjected, refused []string
	for _, f := range rec.faults {
		switch {
		case f.refused():
			refused = append(refused, f.String())
		case f.Err != "":
			notInjected = append(notInjected, f.String())
		}
	}
	if len(refused) > 0 {
		fmt.Fprintf(&b, "faults refused by Kontrail's admission (%d):\n  %s\n", len(refused), strings.Join(refused, "\n  "))
	}
	if len(notInjected) > 0 {
		fmt.Fprintf(&b, "faults not injected (%d):\n  %s\n", len(notInjected), strings.Join(notInjected, "\n  "))
	}
	if len(rec.recovery) > 0 {
		fmt.Fprintf(&b, "time to Ready again (from the fault to the pod's Ready condition):\n")
		for _, k := range sortedKeys(rec.recovery) {
			d := append([]time.Duration(nil), rec.recovery[k]...)
			sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
			fmt.Fprintf(&b, "  %-18s n=%d min %s median %s max %s\n", k, len(d), d[0], d[len(d)/2], d[len(d)-1])
		}
	}
	notSettled := append([]string(nil), rec.notSettled...)
	var notes []string
	for _, n := range rec.notes {
		line := rec.noteCycle[n] + ": " + n
		if c := rec.noteCount[n]; c > 1 {
			line += fmt.Sprintf(" (x%d)", c)
		}
		notes = append(notes, line)
	}
	faults := append([]*fault(nil), rec.faults...)
	rec.mu.Unlock()

	fmt.Fprintf(&b, "pings (%s <-> %s on nodes 1 and 2, every %s each way), per network:\n", pinger1, pinger2, pingInterval)
	if len(pingStreams) == 0 {
		fmt.Fprintf(&b, "  (no pings ran)\n")
	} else {
		b.WriteString(pingReport())
	}
	if len(notSettled) > 0 {
		fmt.Fprintf(&b, "cycles after which the system did not settle in time (%d):\n", len(notSettled))
		for _, s := range notSettled {
			fmt.Fprintf(&b, "  %s\n", s)
		}
	}
	vs := rec.snapshotViolations()
	per := byInvariant(vs)
	fmt.Fprintf(&b, "VIOLATIONS: %d (invariant 1: %d, 2: %d, 3: %d, 4: %d)\n", len(vs), per["1"], per["2"], per["3"], per["4"])
	// Per cycle first (what broke when), then each with its evidence.
	perCycle := map[int]map[string]int{}
	var order []int
	for _, v := range vs {
		if perCycle[v.Cycle] == nil {
			perCycle[v.Cycle] = map[string]int{}
			order = append(order, v.Cycle)
		}
		perCycle[v.Cycle][v.Invariant]++
	}
	for _, c := range order {
		var parts []string
		for _, inv := range sortedKeys(perCycle[c]) {
			parts = append(parts, fmt.Sprintf("%d x invariant %s", perCycle[c][inv], inv))
		}
		fmt.Fprintf(&b, "  %s: %s\n", cycleName(c), strings.Join(parts, ", "))
	}
	for i, v := range vs {
		fmt.Fprintf(&b, "%3d. %s", i+1, v.String())
	}
	if len(notes) > 0 {
		fmt.Fprintf(&b, "notes (%d):\n", len(notes))
		for _, n := range notes {
			fmt.Fprintf(&b, "  %s\n", n)
		}
	}
	fmt.Fprintf(&b, "faults in order (%d):\n", len(faults))
	for _, f := range faults {
		end := "not settled"
		if !f.End.IsZero() {
			end = "settled " + f.End.Format("15:04:05")
		}
		fmt.Fprintf(&b, "  %s, %s\n", f, end)
	}
	if theWatchers != nil {
		fmt.Fprintf(&b, "watch errors (list/watch failures the informers retried, e.g. during the apiserver's restarts): %d\n", theWatchers.errors.Load())
	}
	return b.String()
}

// artifactsDir is where the run's summary and state dumps go:
// <artifacts>/chaos-<lab>-<start time>.
func artifactsDir() (string, error) {
	dir := filepath.Join(lab.ArtifactsDir(), "chaos-"+theLab.Name+"-"+rec.start.UTC().Format("20060102-150405"))
	return dir, os.MkdirAll(dir, 0o755)
}

// dumpState writes what the API holds of the suite's networks and pods,
// and the events, to <artifacts dir>/<name>.txt, for the evidence of a
// cycle that did not settle or of the end of the run.
func dumpState(name string) {
	dir, err := artifactsDir()
	if err != nil {
		rec.note("could not dump the state: %v", err)
		return
	}
	var b strings.Builder
	for _, args := range [][]string{
		{"get", "pods", "-A", "-o", "wide"},
		{"get", "apiservers,controllers,kubemanagers,vrouters", "-A"},
		{"get", "net-attach-def,vn,subnet,ri,vm,vmi", "-A", "-o", "wide"},
		{"get", "iip,vr", "-o", "wide"},
		{"-n", ns, "get", "net-attach-def,vn,subnet,ri", "-o", "yaml"},
		{"get", "events", "-A", "--sort-by=.lastTimestamp"},
	} {
		out, err := run(args...)
		fmt.Fprintf(&b, "$ kubectl %s\n%s", strings.Join(args, " "), out)
		if err != nil {
			fmt.Fprintf(&b, "(%v)\n", err)
		}
		b.WriteString("\n")
	}
	path := filepath.Join(dir, name+".txt")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		rec.note("could not dump the state: %v", err)
		return
	}
	logf("state dumped to %s", path)
}

// writeSummary prints the summary and writes it under the artifacts dir.
func writeSummary() string {
	text := summary()
	fmt.Fprint(logOut, "\n"+text)
	dir, err := artifactsDir()
	if err != nil {
		fmt.Fprintf(logOut, "could not write the summary: %v\n", err)
		return ""
	}
	path := filepath.Join(dir, "summary.txt")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		fmt.Fprintf(logOut, "could not write the summary: %v\n", err)
		return ""
	}
	fmt.Fprintf(logOut, "the summary is in %s\n", path)
	return path
}
