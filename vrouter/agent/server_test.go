package agent

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kontrail/kontrail/cni/agentapi"
	"github.com/kontrail/kontrail/cni/agentapi/agentapitest"
)

func asNobody(t *testing.T, f func()) {
	t.Helper()
	if err := agentapitest.AsUser(agentapitest.Nobody, f); err != nil {
		t.Fatal(err)
	}
}

// The agent answers root alone, by the caller's SO_PEERCRED, even when
// its socket is reachable (here an abstract one, which anyone may dial):
// nobody can neither list the node's ports nor unplug a pod; root can.
func TestAgentAnswersRootAlone(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the caller changes user")
	}
	a := &Agent{metrics: newMetrics(), ports: mustPortStore(t)}
	socket := fmt.Sprintf("@kontrail-test-agent-%d-%d", os.Getpid(), time.Now().UnixNano())
	l, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = (&server{agent: a}).serve(ctx, l) }()
	// The connection is made on nobody's thread (SO_PEERCRED records the
	// connecting thread's credentials): not through http.Client, whose
	// dials run on goroutines of their own.
	asNobody(t, func() {
		for _, req := range []struct{ method, path string }{
			{"GET", agentapi.PathPorts}, {"DELETE", agentapi.PathPorts + "?containerID=any-container"}} {
			status, body := rawRequest(t, socket, req.method, req.path)
			if status != 403 || !strings.Contains(body, "the vrouter agent answers root alone; refused uid 65534") {
				t.Errorf("nobody's %s %s: %d %s", req.method, req.path, status, body)
			}
		}
	})
	if _, err := agentapi.NewClient(socket).Ports(context.Background()); err != nil {
		t.Errorf("root was refused: %v", err)
	}
}

// rawRequest sends one request on a connection dialled by the calling
// thread.
func rawRequest(t *testing.T, socket, method, path string) (int, string) {
	t.Helper()
	conn, err := net.Dial("unix", socket)
	if err != nil {
		t.Errorf("dial %s: %v", socket, err)
		return 0, ""
	}
	defer conn.Close()
	req, _ := http.NewRequest(method, "http://agent"+path, nil)
	if err := req.Write(conn); err != nil {
		t.Errorf("write: %v", err)
		return 0, ""
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Errorf("read: %v", err)
		return 0, ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func mustPortStore(t *testing.T) *PortStore {
	t.Helper()
	s, _, err := OpenPortStore(t.TempDir() + "/ports.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}
