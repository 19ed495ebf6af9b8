package agent

import (
	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// metrics are the agent's Prometheus metrics, served on the manager's
// metrics endpoint.
type metrics struct {
	ports          prometheus.Gauge
	programSeconds prometheus.Histogram
	resolveSeconds prometheus.Histogram
	errors         *prometheus.CounterVec
}

var agentMetrics = &metrics{
	ports: prometheus.NewGauge(prometheus.GaugeOpts{Name: "kontrail_vrouter_ports",
		Help: "Pod interfaces plugged on the node."}),
	programSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "kontrail_vrouter_dataplane_program_seconds",
		Help: "Time to reconcile the node's dataplane.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
	resolveSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "kontrail_vrouter_interfaces_wait_seconds",
		Help: "Time the CNI plugin waited for a pod's interfaces.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 17)}),
	errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kontrail_vrouter_errors_total",
		Help: "Errors by operation (interfaces, ports, dataplane)."}, []string{"operation"}),
}

func init() {
	ctrlmetrics.Registry.MustRegister(agentMetrics.ports, agentMetrics.programSeconds, agentMetrics.resolveSeconds, agentMetrics.errors)
}

// newMetrics returns the process's metrics (one agent per process).
func newMetrics() *metrics { return agentMetrics }
