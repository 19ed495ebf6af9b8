package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
	"github.com/kontrail/kontrail/components/kubemanager/kubemanager"
)

// BenchmarkPodBurst creates 1,000 pods with two NADs each at once and
// times until every pod has its network-status; kubemanager runs as its own
// process (the kontrail-kubemanager binary) so that its peak RSS is its own.
// It reports pods per second and kubemanager's peak RSS.
func BenchmarkPodBurst(b *testing.B) {
	const pods = 1000
	e := controlPlane(b)
	ctx := context.Background()
	c := e.Client

	dir := b.TempDir()
	bin := filepath.Join(dir, "kontrail-kubemanager")
	build := exec.Command("go", "build", "-o", bin, "./cmd/kubemanager")
	build.Dir = filepath.Join(e.RepoRoot, "components", "kubemanager")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("failed to build kubemanager: %v\n%s", err, out)
	}
	user, err := e.Environment.AddUser(envtest.User{Name: "kubemanager", Groups: []string{"system:masters"}}, e.Config)
	if err != nil {
		b.Fatal(err)
	}
	kubeconfig, _ := user.KubeConfig()
	if err := os.WriteFile(filepath.Join(dir, "kubeconfig"), kubeconfig, 0o600); err != nil {
		b.Fatal(err)
	}
	km := exec.Command(bin, "--kubeconfig", filepath.Join(dir, "kubeconfig"), "--metrics-bind-address", "0",
		"--health-probe-bind-address", "0", "--workers", "16")
	km.Env = append(os.Environ(), "KUBEMANAGER_CLUSTER_NAME=bench", "KUBEMANAGER_SERVICE_V4_SUBNET=10.0.0.0/24")
	log, _ := os.Create(filepath.Join(dir, "kubemanager.log"))
	km.Stdout, km.Stderr = log, log
	if err := km.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = km.Process.Kill(); _ = km.Wait() }()

	// kubemanager installs the NAD CRD when the cluster lacks it.
	waitFor(b, "the NetworkAttachmentDefinition CRD", func() bool {
		return c.List(ctx, &nadv1.NetworkAttachmentDefinitionList{}) == nil
	})
	for _, n := range []struct{ name, cidr string }{{"net-a", "10.110.0.0/16"}, {"net-b", "10.111.0.0/16"}} {
		nad := &nadv1.NetworkAttachmentDefinition{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: n.name,
			Annotations: map[string]string{kubemanager.AnnotationNetworks: `{"ipamV4Subnet": "` + n.cidr + `"}`}},
			Spec: nadv1.NetworkAttachmentDefinitionSpec{Config: `{"cniVersion": "1.0.0", "type": "contrail-k8s-cni"}`}}
		if err := c.Create(ctx, nad); err != nil {
			b.Fatal(err)
		}
	}
	waitFor(b, "the networks", func() bool {
		var vns corev1alpha1.VirtualNetworkList
		_ = c.List(ctx, &vns)
		ok := 0
		for _, vn := range vns.Items {
			if vn.Status.State == corev1alpha1.StateSuccess && (vn.Name == "net-a" || vn.Name == "net-b" || vn.Name == "default-podnetwork") {
				ok++
			}
		}
		return ok == 3
	})

	var total time.Duration
	for round := 0; b.Loop(); round++ {
		start := time.Now()
		work := make(chan int, pods)
		for i := range pods {
			work <- i
		}
		close(work)
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				for i := range work {
					p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("bench-%d-%04d", round, i),
						Annotations: map[string]string{nadv1.NetworkAttachmentAnnot: "net-a,net-b"}},
						Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
					if err := c.Create(ctx, p); err != nil {
						b.Error(err)
					}
				}
			})
		}
		wg.Wait()
		prefix := fmt.Sprintf("bench-%d-", round)
		waitFor(b, "every pod's network-status", func() bool {
			var list corev1.PodList
			_ = c.List(ctx, &list, client.InNamespace("default"))
			done := 0
			for _, p := range list.Items {
				if strings.HasPrefix(p.Name, prefix) && p.Annotations[nadv1.NetworkStatusAnnot] != "" {
					done++
				}
			}
			return done == pods
		})
		total += time.Since(start)
	}
	b.ReportMetric(float64(pods*b.N)/total.Seconds(), "pods/s")
	b.ReportMetric(total.Seconds()/float64(b.N), "s/1000pods")
	b.ReportMetric(peakRSSMiB(b, km.Process.Pid), "kubemanager-peak-MiB")
}

func waitFor(b *testing.B, what string, done func() bool) {
	b.Helper()
	deadline := time.Now().Add(10 * time.Minute)
	for !done() {
		if time.Now().After(deadline) {
			b.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// peakRSSMiB reads a process's peak resident set size (VmHWM).
func peakRSSMiB(b *testing.B, pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return float64(kb) / 1024
		}
	}
	b.Fatal("no VmHWM in /proc status")
	return 0
}
