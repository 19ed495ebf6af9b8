package bench

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// writeVerbs are the apiserver_request_total verbs that write.
var writeVerbs = map[string]bool{"POST": true, "PUT": true, "PATCH": true, "APPLY": true, "DELETE": true, "DELETECOLLECTION": true}

// apiWrites are the apiserver's writes so far, by resource[/subresource]
// and verb, from its own request counter (apiserver_request_total), so
// that every writer is counted, whoever it is: the components, the bench
// and the apiserver's own controllers.
type apiWrites map[string]float64

// readAPIWrites reads the apiserver's /metrics.
func readAPIWrites(ctx context.Context, cfg *rest.Config) (apiWrites, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	body, err := cs.Discovery().RESTClient().Get().AbsPath("/metrics").Stream(ctx)
	if err != nil {
		return nil, fmt.Errorf("the apiserver's metrics: %w", err)
	}
	defer func() { _ = body.Close() }()
	return parseAPIWrites(body)
}

func parseAPIWrites(in io.Reader) (apiWrites, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(in)
	if err != nil {
		return nil, fmt.Errorf("the apiserver's metrics: %w", err)
	}
	writes := apiWrites{}
	family, ok := families["apiserver_request_total"]
	if !ok {
		return nil, fmt.Errorf("the apiserver's metrics have no apiserver_request_total")
	}
	for _, m := range family.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if !writeVerbs[labels["verb"]] {
			continue
		}
		what := labels["resource"]
		if labels["subresource"] != "" {
			what += "/" + labels["subresource"]
		}
		writes[what+":"+labels["verb"]] += m.GetCounter().GetValue()
	}
	return writes, nil
}

// since are the writes between earlier and w, without the zeroes.
func (w apiWrites) since(earlier apiWrites) apiWrites {
	d := apiWrites{}
	for k, v := range w {
		if n := v - earlier[k]; n > 0 {
			d[k] = n
		}
	}
	return d
}

// report reports the writes per pod, in all and by resource and verb
// (units writes/pod and writes/pod:<resource>:<verb>), leaving out those
// the benchmark made itself (one pod create each).
func (w apiWrites) report(b *testing.B, pods int) {
	w = maps.Clone(w)
	w["pods:POST"] -= float64(pods)
	if w["pods:POST"] <= 0 {
		delete(w, "pods:POST")
	}
	total := 0.0
	for _, k := range slices.Sorted(maps.Keys(w)) {
		total += w[k]
		b.ReportMetric(w[k]/float64(pods), "writes/pod:"+k)
	}
	b.ReportMetric(total/float64(pods), "writes/pod")
}

func TestParseAPIWrites(t *testing.T) {
	const metrics = `# HELP apiserver_request_total [STABLE] Counter of apiserver requests
# TYPE apiserver_request_total counter
apiserver_request_total{code="201",component="apiserver",dry_run="",group="core.contrail.juniper.net",resource="instanceips",scope="cluster",subresource="",verb="POST",version="v1alpha1"} 30
apiserver_request_total{code="409",component="apiserver",dry_run="",group="core.contrail.juniper.net",resource="instanceips",scope="cluster",subresource="",verb="POST",version="v1alpha1"} 2
apiserver_request_total{code="200",component="apiserver",dry_run="",group="core.contrail.juniper.net",resource="instanceips",scope="cluster",subresource="status",verb="PUT",version="v1alpha1"} 30
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="PATCH",version="v1"} 10
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="POST",version="v1"} 10
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="LIST",version="v1"} 99
`
	// Before: every instanceip counter lower, the pods' the same.
	before, err := parseAPIWrites(strings.NewReader(strings.NewReplacer("} 30", "} 0", "} 2", "} 1").Replace(metrics)))
	if err != nil {
		t.Fatal(err)
	}
	after, err := parseAPIWrites(strings.NewReader(metrics))
	if err != nil {
		t.Fatal(err)
	}
	got := after.since(before)
	want := apiWrites{"instanceips/status:PUT": 30, "instanceips:POST": 31}
	if !maps.Equal(got, want) {
		t.Errorf("writes: got %v, want %v (every code counted, reads and unchanged counters left out, the earlier count subtracted)", got, want)
	}
	if _, err := parseAPIWrites(strings.NewReader("# TYPE other counter\nother 1\n")); err == nil {
		t.Error("metrics without apiserver_request_total: no error")
	}
}
