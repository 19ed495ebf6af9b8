package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/kontrail/kontrail/cni/agentapi"
)

// The node's state directory is shared by every agent of the host (and of
// every lab on one machine): an empty one can be removed beneath a running
// agent. The store makes its own directory at once, so the shared one is
// never empty while an agent runs.
func TestOpenPortStoreKeepsTheSharedDirectoryInUse(t *testing.T) {
	shared := filepath.Join(t.TempDir(), "vrouter")
	if err := os.Mkdir(shared, 0o755); err != nil { // kubelet's DirectoryOrCreate
		t.Fatal(err)
	}
	if _, _, err := OpenPortStore(filepath.Join(shared, "node-1", "ports.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(shared); err == nil {
		t.Fatal("the shared state directory could be removed beneath a running agent that has no port yet")
	}
}

// A state directory removed on the host beneath the agent's mount is
// named as such, by the health check and by the failed save the CNI ADD
// reports (it was "mkdir ...: no such file or directory").
func TestStateDirRemovedBeneathTheAgent(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: bind-mounts a directory as the container runtime does")
	}
	base := t.TempDir()
	host, mounted := filepath.Join(base, "host"), filepath.Join(base, "mounted")
	for _, d := range []string{host, mounted} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mount(host, mounted, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(mounted, unix.MNT_DETACH) })
	if err := StateDirProblem(mounted); err != nil {
		t.Fatalf("a mounted directory in place: %v", err)
	}
	if err := StateDirProblem(filepath.Join(base, "not-made-yet")); err != nil {
		t.Fatalf("a directory not made yet: %v", err)
	}
	// The store opened before the attack keeps its directory, so the host's
	// removal must come first: as on a node where the agent has just started.
	if err := os.Remove(host); err != nil {
		t.Fatal(err)
	}
	err := StateDirProblem(mounted)
	if err == nil || !strings.Contains(err.Error(), "removed from the node beneath the agent") {
		t.Fatalf("StateDirProblem of a removed directory = %v", err)
	}
	s := &PortStore{path: filepath.Join(mounted, "node-1", "ports.json"), ports: map[string][]agentapi.Port{}}
	err = s.Add([]agentapi.Port{{ContainerID: "c1", IfName: "eth0"}})
	if err == nil || !strings.Contains(err.Error(), "removed from the node beneath the agent") {
		t.Fatalf("saving a port in a removed directory = %v", err)
	}
}
