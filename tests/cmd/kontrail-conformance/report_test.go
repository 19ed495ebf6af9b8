package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

func spec(container, leaf string, state types.SpecState, msg string) types.SpecReport {
	return types.SpecReport{ContainerHierarchyTexts: []string{container}, LeafNodeText: leaf, LeafNodeType: types.NodeTypeIt,
		State: state, RunTime: 3 * time.Second, Failure: types.Failure{Message: msg}}
}

func TestSelectKeepsTheFocusedTestsWithTheirOutcome(t *testing.T) {
	reports := []types.Report{{SpecReports: []types.SpecReport{
		spec("[sig-network] DNS", "should provide DNS for the cluster [Conformance]", types.SpecStatePassed, ""),
		spec("[sig-network] Services", "should serve a basic endpoint from pods [Conformance]", types.SpecStateFailed, "timed out\nmore"),
		spec("[sig-network] HostPort", "validates hostPort [Conformance]", types.SpecStateSkipped, "Only supported for providers [gce]\n"),
		spec("[sig-network] Proxy", "should proxy [Conformance]", types.SpecStateSkipped, ""),
		spec("[sig-network] Netpol", "should enforce policy", types.SpecStatePassed, ""), // not focused
		spec("[sig-node] Pods", "should run [Conformance]", types.SpecStateFailed, "x"),  // not focused
		{LeafNodeType: types.NodeTypeSynchronizedBeforeSuite, State: types.SpecStateFailed},
	}}}
	focus := regexp.MustCompile(DefaultFocus)
	got := Select(reports, focus, regexp.MustCompile(`Proxy`))
	if len(got) != 4 {
		t.Fatalf("selected %d tests, want 4: %+v", len(got), got)
	}
	want := map[string]struct {
		r    Result
		note string
	}{
		"[sig-network] DNS should provide DNS for the cluster [Conformance]":           {Passed, ""},
		"[sig-network] Services should serve a basic endpoint from pods [Conformance]": {Failed, "timed out"},
		"[sig-network] HostPort validates hostPort [Conformance]":                      {Skipped, "Only supported for providers [gce]"},
		"[sig-network] Proxy should proxy [Conformance]":                               {Skipped, "skipped by --skip Proxy"},
	}
	for _, r := range got {
		w, ok := want[r.Name]
		if !ok {
			t.Errorf("unexpected test %q", r.Name)
			continue
		}
		if r.Result != w.r || r.Note != w.note {
			t.Errorf("%s: %s %q, want %s %q", r.Name, r.Result, r.Note, w.r, w.note)
		}
	}
	if s := Summarize(got); s != (Summary{Passed: 1, Failed: 1, Skipped: 2}) {
		t.Errorf("summary %+v", s)
	}
}

func TestSelectKeepsTheWorstOutcomeOfATestReportedTwice(t *testing.T) {
	reports := []types.Report{{SpecReports: []types.SpecReport{
		spec("[sig-network] DNS", "x [Conformance]", types.SpecStateFailed, "boom"),
		spec("[sig-network] DNS", "x [Conformance]", types.SpecStatePassed, ""),
	}}}
	got := Select(reports, regexp.MustCompile(DefaultFocus), nil)
	if len(got) != 1 || got[0].Result != Failed {
		t.Fatalf("got %+v, want one failed test", got)
	}
}

func TestMarkdownListsEveryTestAndEscapesTables(t *testing.T) {
	results := []TestResult{{Name: "[sig-network] A | b [Conformance]", Result: Failed, Note: "x | y"},
		{Name: "[sig-network] C [Conformance]", Result: Passed}}
	md := Markdown(results, Run{Command: "make conformance", Focus: DefaultFocus, Procs: 4, Elapsed: time.Minute,
		Versions: [][2]string{{"e2e.test", "v1.37.2"}}, Images: [][2]string{{"agnhost", "built here"}}})
	for _, want := range []string{"**2 selected: 1 passed, 1 failed, 0 skipped**", `| [sig-network] A \| b [Conformance] | failed | 0s | x \| y |`,
		"| [sig-network] C [Conformance] | passed |", "- e2e.test: v1.37.2", "- `agnhost`: built here", "`make conformance`"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}
