// Package lab tests the lab of `make demo`. It needs root (network
// namespaces, a bridge); CI runs it as root.
package lab

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kontrail/kontrail/tests/internal/lab"
)

// The control plane comes up in its own network namespace with real
// certificates, RBAC and service-account signing, answers kubectl on the
// host over the fabric, and `down` leaves nothing behind.
func TestControlPlaneUpAndDown(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces and a bridge")
	}
	repo, _ := filepath.Abs("../..")
	l := &lab.Lab{Name: "klabt", Dir: t.TempDir(), K8sBin: filepath.Join(repo, "bin", "k8s"), Subnet: "10.98.0"}
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		l.K8sBin = dir
	}
	_ = l.Down() // a crashed earlier run
	t.Cleanup(func() { _ = l.Down() })
	ctx := context.Background()
	start := time.Now()
	if err := l.UpControlPlane(ctx); err != nil {
		logs, _ := os.ReadFile(filepath.Join(l.Dir, "logs", "kube-apiserver.log"))
		t.Fatalf("%v\n%s", err, tail(string(logs)))
	}
	t.Logf("control plane up in %s", time.Since(start).Round(time.Millisecond))
	kubectl := func(args ...string) (string, error) {
		out, err := exec.Command(filepath.Join(l.K8sBin, "kubectl"), append([]string{"--kubeconfig", l.Kubeconfig()}, args...)...).CombinedOutput()
		return string(out), err
	}

	// Service accounts get tokens: the controller manager made the default
	// one, the apiserver signs.
	deadline := time.Now().Add(time.Minute)
	for {
		out, err := kubectl("create", "token", "default", "-n", "default")
		if err == nil && strings.Count(out, ".") == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no service account token: %v %s", err, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("service account token after %s", time.Since(start).Round(time.Millisecond))
	// RBAC, not AlwaysAllow: the scheduler's identity may not read secrets.
	out, err := kubectl("get", "secrets", "-A", "--as", "system:kube-scheduler")
	if err == nil || !strings.Contains(out, "forbidden") {
		t.Errorf("the scheduler read secrets: %v %s", err, out)
	}

	downStart := time.Now()
	if err := l.Down(); err != nil {
		t.Fatal(err)
	}
	t.Logf("down in %s", time.Since(downStart).Round(time.Millisecond))
	netns, _ := exec.Command("ip", "netns", "list").Output()
	if strings.Contains(string(netns), "klabt-") {
		t.Errorf("network namespaces left: %s", netns)
	}
	if _, err := net.InterfaceByName("klabt0"); err == nil {
		t.Error("the fabric bridge is left")
	}
	ps, _ := exec.Command("pgrep", "-f", l.Dir).Output()
	if strings.TrimSpace(string(ps)) != "" {
		t.Errorf("processes left: %s", ps)
	}
}

func tail(s string) string {
	lines := strings.Split(s, "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
}
