package bench

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// scalePods is BenchmarkPodScale's size: BENCH_SCALE_PODS, 10,000 unless
// set.
func scalePods(b *testing.B) int {
	b.Helper()
	v := os.Getenv("BENCH_SCALE_PODS")
	if v == "" {
		return 10000
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("BENCH_SCALE_PODS=%q: not a number of pods", v)
	}
	return n
}

// BenchmarkPodScale is the burst at scale: 10,000 pods with two NADs each
// (BENCH_SCALE_PODS), created at once over the two nodes (no kubelet
// runs them), until every pod has its network-status. With all of them
// (and their 130,000 objects) in place it reports every component's
// peak RSS and their restarts (measureRestarts). It leaves the pods: the
// run's apiserver goes with its process. Run it alone, once.
func BenchmarkPodScale(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: the agents run in network namespaces")
	}
	n := scalePods(b)
	s := processStack(b)
	c := s.env.Client
	var total time.Duration
	for b.Loop() {
		namespace := newNamespace(b, c, "scale")
		start := time.Now()
		createAll(b, c, n, func(i int) client.Object {
			return benchPod(namespace, fmt.Sprintf("pod-%05d", i), s.nodes[i%len(s.nodes)].Name)
		})
		if err := untilNetworkStatus(s.env.Config, namespace, n, 60*time.Minute); err != nil {
			b.Fatalf("every pod's network-status: %v\n%s", err, s.log("kubemanager"))
		}
		total += time.Since(start)
		b.StopTimer()
		b.ReportMetric(peakRSSMiB(b, s.controller.Process.Pid), "controller-peak-MiB")
		b.ReportMetric(peakRSSMiB(b, s.kubemanager.Process.Pid), "kubemanager-peak-MiB")
		b.ReportMetric(agentPeakRSSMiB(b, s), "agent-peak-MiB")
		measureRestarts(b, s)
		b.StartTimer()
	}
	b.ReportMetric(float64(n), "pods")
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "pods/s")
}
