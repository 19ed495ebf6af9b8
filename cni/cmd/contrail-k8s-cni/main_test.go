package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/containernetworking/cni/libcni"
)

// buildPlugin compiles the plugin into a temporary CNI bin dir, the way a
// node would have it, and returns that dir.
func buildPlugin(t *testing.T) string {
	t.Helper()
	binDir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, "contrail-k8s-cni"), ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("failed to build the plugin: %v\n%s", err, out)
	}
	return binDir
}

// TestVersion asks the plugin for its versions through libcni, as a
// container runtime does before it calls ADD.
func TestVersion(t *testing.T) {
	binDir := buildPlugin(t)
	cniConfig := libcni.NewCNIConfig([]string{binDir}, nil)
	info, err := cniConfig.GetVersionInfo(context.Background(), "contrail-k8s-cni")
	if err != nil {
		t.Fatalf("VERSION failed: %v", err)
	}
	got := info.SupportedVersions()
	for _, want := range []string{"0.3.1", "0.4.0", "1.0.0", "1.1.0"} {
		if !slices.Contains(got, want) {
			t.Errorf("supported versions %v lack %s", got, want)
		}
	}
}

// TestNoKubernetesClient keeps the plugin small and fast to start: the
// runtime execs it for every pod, so it must not link a Kubernetes client.
func TestNoKubernetesClient(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list failed: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"k8s.io/client-go", "sigs.k8s.io/controller-runtime", "k8s.io/apimachinery"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("the plugin depends on %s", dep)
			}
		}
	}
}
