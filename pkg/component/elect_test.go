package component

import (
	"flag"
	"io"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestElectOnePerCluster(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lease string
		args  []string
		elect bool
		err   string
	}{
		{name: "a one-per-cluster component elects without the flag", lease: "kube-system", elect: true},
		{name: "and with it", lease: "kube-system", args: []string{"--leader-elect"}, elect: true},
		{name: "an args override cannot turn it off", lease: "kube-system", args: []string{"--leader-elect=false"}, err: "always elects one leader"},
		{name: "another component may run alone", args: []string{"--leader-elect=false"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{Name: "kontrail-controller", ClusterLease: tc.lease}
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			o.BindFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			err := o.electOnePerCluster(fs)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || o.LeaderElection != tc.elect {
				t.Fatalf("err = %v, leader election %v, want nil, %v", err, o.LeaderElection, tc.elect)
			}
		})
	}
}

// A plain /metrics endpoint must be on loopback: the components run in the
// host network.
func TestPlainMetricsOnlyOnLoopback(t *testing.T) {
	for addr, ok := range map[string]bool{":8080": false, "0.0.0.0:8080": false, "10.0.0.1:8080": false, "127.0.0.1:8080": true, "localhost:8080": true, "[::1]:8080": true, "0": true} {
		err := checkMetrics(&Options{MetricsAddr: addr})
		refused := err != nil && strings.Contains(err.Error(), "must then be on loopback")
		if refused == ok {
			t.Errorf("--metrics-secure=false --metrics-bind-address=%s: refused %v, want %v (%v)", addr, refused, !ok, err)
		}
	}
}

// A stopped leader hands its lease over at once; one that crashes cannot.
func TestStoppedLeaderReleasesItsLease(t *testing.T) {
	opts := managerOptions(&Options{Name: "kontrail-controller", ClusterLease: "kube-system", LeaderElection: true, MetricsAddr: "0"}, nil)
	if !opts.LeaderElection || !opts.LeaderElectionReleaseOnCancel {
		t.Fatalf("leader election %v, released on stop %v: want both", opts.LeaderElection, opts.LeaderElectionReleaseOnCancel)
	}
	if opts.LeaderElectionNamespace != "kube-system" || opts.LeaderElectionID != "kontrail-controller.kontrail.juniper.net" {
		t.Fatalf("lease %s/%s", opts.LeaderElectionNamespace, opts.LeaderElectionID)
	}
}

// The components' caches drop managed fields.
func TestCacheStripsManagedFields(t *testing.T) {
	opts := managerOptions(&Options{Name: "kontrail-kubemanager", MetricsAddr: "0"}, nil)
	if opts.Cache.DefaultTransform == nil {
		t.Fatal("no cache transform")
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}}}
	out, err := opts.Cache.DefaultTransform(pod)
	if err != nil || len(out.(*corev1.Pod).ManagedFields) != 0 {
		t.Fatalf("managed fields kept: %v, %v", out, err)
	}
}
