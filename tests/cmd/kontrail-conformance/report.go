package main

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

// Result is a selected test's outcome.
type Result string

const (
	Passed  Result = "passed"
	Failed  Result = "failed"
	Skipped Result = "skipped"
)

// TestResult is one selected test: its full text, outcome, run time and,
// for a failure or a skip, the first line of its reason.
type TestResult struct {
	Name    string
	Result  Result
	RunTime time.Duration
	Note    string
}

// Select keeps the tests (It nodes) whose full text matches focus, with
// their outcome. A test skip matches is reported skipped by that flag; a
// test the suite skipped carries the reason it gave.
func Select(reports []types.Report, focus, skip *regexp.Regexp) []TestResult {
	byName := map[string]TestResult{}
	for _, report := range reports {
		for _, s := range report.SpecReports {
			if s.LeafNodeType != types.NodeTypeIt {
				continue
			}
			name := s.FullText()
			if !focus.MatchString(name) {
				continue
			}
			r := TestResult{Name: name, RunTime: s.RunTime}
			switch {
			case s.State == types.SpecStatePassed:
				r.Result = Passed
			case s.State.Is(types.SpecStateFailureStates):
				r.Result, r.Note = Failed, firstLine(s.Failure.Message)
				if loc := s.Failure.Location; loc.FileName != "" {
					r.Note += fmt.Sprintf(" (%s:%d)", shortPath(loc.FileName), loc.LineNumber)
				}
			default: // skipped or pending
				r.Result = Skipped
				switch {
				case skip != nil && skip.MatchString(name):
					r.Note = "skipped by --skip " + skip.String()
				case s.Failure.Message != "":
					r.Note = firstLine(s.Failure.Message)
				case s.State == types.SpecStatePending:
					r.Note = "pending in the suite"
				default:
					r.Note = "not run (the suite was interrupted or filtered it out)"
				}
			}
			// A test retried or reported twice keeps its worst outcome.
			if old, ok := byName[name]; !ok || rank(r.Result) > rank(old.Result) {
				byName[name] = r
			}
		}
	}
	out := make([]TestResult, 0, len(byName))
	for _, r := range byName {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func rank(r Result) int {
	switch r {
	case Failed:
		return 2
	case Skipped:
		return 1
	}
	return 0
}

// Summary counts the outcomes.
type Summary struct{ Passed, Failed, Skipped int }

// Summarize counts results by outcome.
func Summarize(results []TestResult) Summary {
	var s Summary
	for _, r := range results {
		switch r.Result {
		case Passed:
			s.Passed++
		case Failed:
			s.Failed++
		case Skipped:
			s.Skipped++
		}
	}
	return s
}

// Run is what the report says about the run itself.
type Run struct {
	Command, Focus, Skip string
	Procs, Nodes         int
	Elapsed              time.Duration
	Versions             [][2]string
	// Images are the images built for the suite: reference, what is in it.
	Images [][2]string
}

// Markdown is docs/conformance.md: the command, the versions, the
// summary, and every selected test with its result and, for a skip or a
// failure, why.
func Markdown(results []TestResult, run Run) string {
	var b strings.Builder
	sum := Summarize(results)
	fmt.Fprintf(&b, "# Kubernetes conformance on the lab\n\n")
	fmt.Fprintf(&b, "Written by `%s` (tests/cmd/kontrail-conformance): Kubernetes' own e2e suite, built from source at the lab's version, "+
		"run on a lab with Kontrail as the cluster's network (every pod's `eth0`), kube-proxy and CoreDNS. See docs/lab.md for the lab.\n\n", run.Command)
	fmt.Fprintf(&b, "**%d selected: %d passed, %d failed, %d skipped** in %s (%d ginkgo processes).\n\n",
		len(results), sum.Passed, sum.Failed, sum.Skipped, run.Elapsed.Round(time.Second), run.Procs)
	fmt.Fprintf(&b, "## The run\n\n")
	fmt.Fprintf(&b, "- Focus: `%s`", run.Focus)
	if run.Skip != "" {
		fmt.Fprintf(&b, "; skip: `%s`", run.Skip)
	}
	fmt.Fprintf(&b, "\n")
	for _, v := range run.Versions {
		fmt.Fprintf(&b, "- %s: %s\n", v[0], v[1])
	}
	fmt.Fprintf(&b, "\nThe images the tests run are built here (no registry is reachable) under their upstream names, "+
		"imported into every node and served by the lab's registry, the nodes' mirror of registry.k8s.io:\n\n")
	for _, img := range run.Images {
		fmt.Fprintf(&b, "- `%s`: %s\n", img[0], img[1])
	}
	fmt.Fprintf(&b, "\n")
	fmt.Fprintf(&b, "## Every selected test\n\n| Test | Result | Time | Why (a skip or a failure) |\n|---|---|---|---|\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", escape(r.Name), r.Result, r.RunTime.Round(time.Second), escape(r.Note))
	}
	return b.String()
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// shortPath is a source path from its module's test/ directory on.
func shortPath(p string) string {
	if i := strings.Index(p, "/test/e2e/"); i >= 0 {
		return p[i+1:]
	}
	return p
}

func escape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
