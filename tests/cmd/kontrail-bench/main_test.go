package main

import (
	"strings"
	"testing"
	"time"
)

// A run in which the latency benchmark's ADDs timed out and the throughput
// benchmark failed outright: every other row keeps its figures, the failed
// ones say why, and the timed-out ADDs show as a count and a p99 later
// than the agent's wait.
const failingRun = `goos: linux
BenchmarkCNIAddDel-2     	     100	  43000000 ns/op	        19.60 p50-add-ms	        24.40 p90-add-ms	        34.30 p99-add-ms	       100.0 samples
BenchmarkPodBurst-2      	       1	133000000000 ns/op	         7.510 pods/s	       133.0 s/1000pods	        51.00 floor-pods/s	        21.00 writes/pod	         3.000 writes/pod:instanceips/status:PUT	         1.000 writes/pod:pods:PATCH
BenchmarkPodScale-2      	       1	900000000000 ns/op	        11.10 pods/s	     10000 pods	       410.0 controller-peak-MiB	        12.50 controller-restart-s	         9.00 controller-standby-ready-s	         2.50 controller-leader-start-s	         0.80 agent-restart-s
BenchmarkPodLatency-2    	       1	 15000000000 ns/op	      49362 p50-ms	      +Inf p99-ms	       300.0 pods	        12.00 failed-adds
--- FAIL: BenchmarkThroughput/veth
    throughput_bench_test.go:88: iperf3 server: exit status 1
    throughput_bench_test.go:90: second line
FAIL
`

func TestFailuresKeepEveryRow(t *testing.T) {
	r, f := results{}, failures{}
	parse(failingRun, r, f)
	if got := f["BenchmarkThroughput/veth"]; got != "iperf3 server: exit status 1" {
		t.Errorf("the failure's reason: got %q, want the first message the benchmark logged", got)
	}
	if got := r["BenchmarkPodLatency"]["failed-adds"]; len(got) != 1 || got[0] != 12 {
		t.Errorf("failed-adds: got %v", got)
	}
	f.incomplete(r, "BenchmarkMultusAddDel", "samples", 1)
	f.incomplete(r, "BenchmarkCNIAddDel", "samples", 1)
	table := render(r, f, 1, time.Minute)
	for _, want := range []string{
		"| ADD p50 | 19.6 (19.6–19.6) | **failed**: ran 0 of 1 times |",
		"| p99 | > 60000 (> 60000–> 60000) |",
		"| of them, ADDs that failed (counted as later than the 60000 ms the agent waits) | 12.0 (12.0–12.0) |",
		"| plain veth pair between two namespaces (the limit) | **failed**: iperf3 server: exit status 1 |",
		"| pod networking latency p99 ≤ 1,000 ms at 20 pods/s | > 60000 ≤ 1000 | **not met** |",
		"| all | 21.0 (21.0–21.0) |\n| PUT instanceips/status | 3.00 (3.00–3.00) |\n| PATCH pods | 1.00 (1.00–1.00) |",
		"| controller's cold start: SIGTERM, then a new process (its caches listed from nothing), to a new pod's network-status, s | – | 12.5 (12.5–12.5) |",
		"| controller's leader start in that rollout: the leader's SIGTERM to a new pod's network-status (the lease, every allocation rebuilt from the apiserver, the pod's allocation), s | – | 2.50 (2.50–2.50) |",
		"| controller peak RSS < 1,024 MiB at 10,000 pods | 410 ≤ 1024 | met |",
		"| controller's leader start < 10 s at 10,000 pods (rollout) | 2.50 ≤ 10.0 | met |",
		"| Kontrail: until every pod has its network-status (controller and kubemanager at their defaults) | 7.51 (7.51–7.51) |",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("the table lacks %q:\n%s", want, table)
		}
	}
	if _, ok := f["BenchmarkCNIAddDel"]; ok {
		t.Errorf("a benchmark that ran every time is not a failure: %v", f)
	}
}
