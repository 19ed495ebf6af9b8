package lab

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kontrail/kontrail/tests/internal/lab"
)

// Two nodes, each a network namespace with its own containerd and
// kubelet, register with the control plane; down removes every process,
// namespace, mount and cgroup of theirs.
func TestNodesUpAndDown(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces, cgroups, containerd")
	}
	for _, bin := range []string{"containerd", "runc", "ctr", "busybox"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed (Debian's containerd, runc, busybox-static; .ci/run installs them)", bin)
		}
	}
	repo, _ := filepath.Abs("../..")
	dir := t.TempDir()
	l := &lab.Lab{Name: "klabn", Dir: dir, K8sBin: filepath.Join(repo, "bin", "k8s"), Subnet: "10.97.0"}
	if d := os.Getenv("KUBEBUILDER_ASSETS"); d != "" {
		l.K8sBin = d
	}
	_ = l.Down()
	t.Cleanup(func() { _ = l.Down() })
	ctx := context.Background()
	pause := filepath.Join(dir, "images", "pause.tar")
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatal(err)
	}
	pauseBin := filepath.Join(dir, "pause")
	if out, err := exec.Command("go", "build", "-o", pauseBin, "../cmd/kontrail-pause").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	// The nodes' registry mirror serves the image tarballs (UpNodes starts it).
	if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "bin", "kontrail-registry"), "../cmd/kontrail-registry").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	if err := lab.Build(lab.Image{Ref: lab.PauseImage, Entrypoint: []string{"/pause"}, Files: []lab.File{{Path: "/pause", Source: pauseBin}}}, pause); err != nil {
		t.Fatal(err)
	}
	busybox, err := lab.Busybox(lab.BusyboxImage, bb)
	if err != nil {
		t.Fatal(err)
	}
	busyboxTar := filepath.Join(dir, "images", "busybox.tar")
	if err := lab.Build(busybox, busyboxTar); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	if err := l.UpControlPlane(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.UpNodes(ctx, 2, []string{pause, busyboxTar}); err != nil {
		for _, n := range []string{"klabn-node-1-kubelet", "klabn-node-1-containerd"} {
			logs, _ := os.ReadFile(filepath.Join(dir, "logs", n+".log"))
			t.Logf("%s:\n%s", n, tail(string(logs)))
		}
		t.Fatal(err)
	}
	t.Logf("control plane and two nodes up in %s", time.Since(start).Round(time.Millisecond))
	out, err := exec.Command(filepath.Join(l.K8sBin, "kubectl"), "--kubeconfig", l.Kubeconfig(), "get", "nodes", "-o", "wide").CombinedOutput()
	t.Logf("%s", out)
	if err != nil || !strings.Contains(string(out), "klabn-node-1") || !strings.Contains(string(out), "10.97.0.12") {
		t.Fatalf("nodes: %v %s", err, out)
	}

	// A pod runs: the host network needs no CNI, and it tolerates the
	// not-ready taint of nodes without one; its log comes back through
	// the kubelet, as kubectl logs does.
	kubectl := func(args ...string) (string, error) {
		out, err := exec.Command(filepath.Join(l.K8sBin, "kubectl"), append([]string{"--kubeconfig", l.Kubeconfig()}, args...)...).CombinedOutput()
		return string(out), err
	}
	pod := `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hello", "namespace": "default"},
	  "spec": {"hostNetwork": true, "nodeName": "klabn-node-2", "tolerations": [{"operator": "Exists"}], "restartPolicy": "Never",
	    "containers": [{"name": "hello", "image": "busybox", "imagePullPolicy": "IfNotPresent", "command": ["sh", "-c", "echo hello from $(hostname)"]}]}}`
	// Until the controller manager made the namespace's default service
	// account, pods are refused.
	for applyDeadline := time.Now().Add(time.Minute); ; {
		apply := exec.Command(filepath.Join(l.K8sBin, "kubectl"), "--kubeconfig", l.Kubeconfig(), "apply", "-f", "-")
		apply.Stdin = strings.NewReader(pod)
		out, err := apply.CombinedOutput()
		if err == nil {
			break
		}
		if time.Now().After(applyDeadline) {
			t.Fatalf("%v %s", err, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		out, err := kubectl("logs", "hello")
		if err == nil && strings.Contains(out, "hello from") {
			t.Logf("kubectl logs hello: %s", strings.TrimSpace(out))
			break
		}
		if time.Now().After(deadline) {
			desc, _ := kubectl("describe", "pod", "hello")
			logs, _ := os.ReadFile(filepath.Join(dir, "logs", "klabn-node-2-kubelet.log"))
			t.Fatalf("no log from the pod: %v %s\n%s\n%s", err, out, desc, tail(string(logs)))
		}
		time.Sleep(time.Second)
	}

	podNetns := l.PodNetns()
	if err := l.Down(); err != nil {
		t.Fatal(err)
	}
	for _, left := range leftovers(dir, "klabn", podNetns) {
		t.Errorf("left after down: %s", left)
	}
}
