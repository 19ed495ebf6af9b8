package agentapi

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kontrail/kontrail/cni/agentapi/agentapitest"
)

const nobody = agentapitest.Nobody

func asUser(t *testing.T, uid int, f func()) {
	t.Helper()
	if err := agentapitest.AsUser(uid, f); err != nil {
		t.Fatal(err)
	}
}

func needRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the socket's directory is root's, and the attacks change user")
	}
}

// The socket's directory is root's alone: no one else can reach the
// socket, nor bind its name while the agent is away.
func TestSocketDirectoryKeepsOthersOut(t *testing.T) {
	needRoot(t)
	dir := filepath.Join(t.TempDir(), "cni")
	if err := os.MkdirAll(dir, 0o777); err != nil { // as a careless hostPath would
		t.Fatal(err)
	}
	if err := PrepareSocketDir(dir); err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(dir); info.Mode().Perm() != 0o700 {
		t.Fatalf("socket directory mode %v, want 0700", info.Mode().Perm())
	}
	path, err := SocketPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want 0600", info.Mode().Perm())
	}
	go func() { _ = http.Serve(l, http.NotFoundHandler()) }()
	asUser(t, nobody, func() {
		if c, err := net.Dial("unix", path); err == nil || !errors.Is(err, fs.ErrPermission) {
			if c != nil {
				c.Close()
			}
			t.Errorf("nobody connected to the agent's socket: %v", err)
		}
	})
	l.Close() // the agent restarts: the name is free
	asUser(t, nobody, func() {
		if squat, err := net.Listen("unix", path); err == nil || !errors.Is(err, fs.ErrPermission) {
			if squat != nil {
				squat.Close()
			}
			t.Errorf("nobody took the socket's name while the agent was away: %v", err)
		}
	})
	if _, err := Listen(path); err != nil {
		t.Errorf("the agent could not take its socket back: %v", err)
	}
}

func TestPrepareSocketDirRefusesALink(t *testing.T) {
	needRoot(t)
	base := t.TempDir()
	if err := os.Mkdir(filepath.Join(base, "elsewhere"), 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "cni")
	if err := os.Symlink(filepath.Join(base, "elsewhere"), link); err != nil {
		t.Fatal(err)
	}
	if err := PrepareSocketDir(link); err == nil || !strings.Contains(err.Error(), "must be a directory of root's") {
		t.Errorf("a link as the socket directory: got %v", err)
	}
}

// The plugin talks to root alone: a socket someone else serves (an
// abstract name taken, a directory made wrong by hand) is refused before a
// byte is sent.
func TestClientRefusesAServerThatIsNotRoot(t *testing.T) {
	needRoot(t)
	// An abstract name: anyone in the network namespace may bind one.
	path := fmt.Sprintf("@kontrail-test-squatter-%d", os.Getpid())
	var squat net.Listener
	asUser(t, nobody, func() {
		var err error
		if squat, err = net.Listen("unix", path); err != nil {
			t.Errorf("nobody's listener: %v", err)
		}
	})
	if squat == nil {
		t.FailNow()
	}
	defer squat.Close()
	go func() { _ = http.Serve(squat, http.NotFoundHandler()) }()
	_, err := NewClient(path).Ready(context.Background())
	if err == nil || !strings.Contains(err.Error(), "is served by uid 65534") || !strings.Contains(err.Error(), "not the vrouter agent") {
		t.Errorf("a server of uid 65534: got %v", err)
	}
}
