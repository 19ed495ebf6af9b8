package agent

import (
	"strings"
	"testing"
	"time"

	"github.com/kontrail/kontrail/vrouter/dataplane"
)

func TestOneNetworkPerVNI(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	networks := []dataplane.Network{{Name: "a/new", VNI: 7}, {Name: "b/old", VNI: 7}, {Name: "c/other", VNI: 8}, {Name: "d/newest", VNI: 7}}
	created := map[string]time.Time{"a/new": t0.Add(time.Minute), "b/old": t0, "c/other": t0, "d/newest": t0.Add(time.Hour)}
	kept, problems := oneNetworkPerVNI(networks, created)
	var names []string
	for _, n := range kept {
		names = append(names, n.Name)
	}
	if got := strings.Join(names, ","); got != "b/old,c/other" {
		t.Errorf("kept %s, want b/old,c/other (the oldest network keeps its VNI)", got)
	}
	if len(problems) != 2 {
		t.Fatalf("problems = %v, want one per network left out", problems)
	}
	for i, want := range []string{"networks b/old and a/new both have VNI 7: a/new is not programmed", "networks b/old and d/newest both have VNI 7: d/newest"} {
		if !strings.Contains(problems[i].Error(), want) {
			t.Errorf("problem %d = %q, want it to say %q", i, problems[i], want)
		}
	}
	if kept, problems := oneNetworkPerVNI(networks[2:3], created); len(kept) != 1 || problems != nil {
		t.Errorf("one network: kept %v, problems %v", kept, problems)
	}
}
