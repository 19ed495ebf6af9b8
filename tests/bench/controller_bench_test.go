// Package bench holds benchmarks that run Kontrail's components against a
// real kube-apiserver and etcd: `go test -bench . ./bench` (KUBEBUILDER_ASSETS
// set, or bin/k8s built by 'make envtest-assets').
package bench

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
	"github.com/kontrail/kontrail/components/controller/controllers"
	"github.com/kontrail/kontrail/tests/internal/testenv"
)

var (
	envMu sync.Mutex
	env   *testenv.Env
	// stack is how the components run against env in this process: the
	// first benchmark to ask decides, and one that needs the other way
	// skips (make bench runs those in processes of their own).
	stack string
)

const (
	inProcess = "the controller in the benchmark process"
	processes = "the controller, kubemanager and agents as processes"
)

// sharedEnv starts the control plane and the apiserver component's
// webhooks once per process; the components are up to the caller.
func sharedEnv(b *testing.B, want string) *testenv.Env {
	b.Helper()
	envMu.Lock()
	defer envMu.Unlock()
	if stack != "" && stack != want {
		b.Skipf("this process runs %s; this benchmark needs %s: run it alone (go test -bench '^%s$')", stack, want, b.Name())
	}
	if env == nil {
		e, err := testenv.Start("../..")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.StartWebhookServer(context.Background()); err != nil {
			_ = e.Stop()
			b.Fatal(err)
		}
		env = e
	}
	stack = want
	return env
}

var (
	controllerOnce sync.Once
	controllerErr  error // kept: every later benchmark fails with it too
)

// controlPlane is the shared control plane with the controller running in
// the benchmark's process (16 workers), for every benchmark of the run.
func controlPlane(b *testing.B) *testenv.Env {
	b.Helper()
	e := sharedEnv(b, inProcess)
	controllerOnce.Do(func() {
		_, controllerErr = e.StartController(context.Background(), controllers.Options{AutonomousSystem: 64512, Workers: 16})
	})
	if controllerErr != nil {
		b.Fatal(controllerErr)
	}
	return e
}

func TestMain(m *testing.M) {
	logf.SetLogger(logr.Discard())
	code := m.Run()
	stopStack()
	if env != nil {
		_ = env.Stop()
	}
	os.Exit(code)
}

// BenchmarkInstanceIPBurst creates 1,000 InstanceIPs on one /16 at once and
// times until the controller has brought every one to Success; it reports
// InstanceIPs per second.
func BenchmarkInstanceIPBurst(b *testing.B) {
	const n = 1000
	e := controlPlane(b)
	ctx := context.Background()
	c := e.Client
	sn := &corev1alpha1.Subnet{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "bench-v4"}, Spec: corev1alpha1.SubnetSpec{CIDR: "10.100.0.0/16"}}
	vn := &corev1alpha1.VirtualNetwork{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "bench"},
		Spec: corev1alpha1.VirtualNetworkSpec{V4SubnetReference: &corev1alpha1.ResourceReference{Name: sn.Name}}}
	for _, o := range []client.Object{sn, vn} {
		if err := c.Create(ctx, o); err != nil {
			b.Fatal(err)
		}
	}

	var total, creating time.Duration
	for round := 0; b.Loop(); round++ {
		start := time.Now()
		names := createInstanceIPs(b, c, fmt.Sprintf("bench-%d", round), vn, n)
		creating += time.Since(start)
		waitAllSuccess(b, c, names)
		total += time.Since(start)

		b.StopTimer()
		for name := range names {
			_ = c.Delete(ctx, &corev1alpha1.InstanceIP{ObjectMeta: metav1.ObjectMeta{Name: name}})
		}
		waitGone(b, c, names)
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "iips/s")
	b.ReportMetric(total.Seconds()/float64(b.N), "s/1000iips")
	// The creates alone, through admission: the floor under the figure above.
	b.ReportMetric(creating.Seconds()/float64(b.N), "create-s/1000iips")
}

// createInstanceIPs creates n InstanceIPs from 32 goroutines.
func createInstanceIPs(b *testing.B, c client.Client, prefix string, vn *corev1alpha1.VirtualNetwork, n int) map[string]bool {
	names := map[string]bool{}
	work := make(chan string, n)
	for i := range n {
		name := fmt.Sprintf("%s-%04d", prefix, i)
		names[name] = true
		work <- name
	}
	close(work)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for name := range work {
				iip := &corev1alpha1.InstanceIP{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1alpha1.InstanceIPSpec{
					VirtualNetworkReference: corev1alpha1.ResourceReference{Namespace: vn.Namespace, Name: vn.Name}}}
				if err := c.Create(context.Background(), iip); err != nil {
					b.Error(err)
				}
			}
		})
	}
	wg.Wait()
	return names
}

func waitAllSuccess(b *testing.B, c client.Client, names map[string]bool) {
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		var list corev1alpha1.InstanceIPList
		if err := c.List(context.Background(), &list); err != nil {
			b.Fatal(err)
		}
		done := 0
		for _, iip := range list.Items {
			if names[iip.Name] && iip.Status.State == corev1alpha1.StateSuccess {
				done++
			}
		}
		if done == len(names) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Fatal("timed out waiting for the InstanceIPs to succeed")
}

func waitGone(b *testing.B, c client.Client, names map[string]bool) {
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		var list corev1alpha1.InstanceIPList
		if err := c.List(context.Background(), &list); err != nil {
			b.Fatal(err)
		}
		left := 0
		for _, iip := range list.Items {
			if names[iip.Name] {
				left++
			}
		}
		if left == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Fatal("timed out waiting for the InstanceIPs to go")
}
