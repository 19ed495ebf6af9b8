package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// restartLimit bounds each restart's measure.
const restartLimit = 5 * time.Minute

// measureRestarts restarts each component with the run's pods (and all
// their objects) in place and reports, in seconds:
//   - controller-restart-s: the controller's leader start, from its new
//     process's start (the old one ended by SIGTERM, as a rollout does)
//     to a new pod's network-status: it rebuilds every allocation from
//     the apiserver before its first one (State.Load), so this bounds the
//     rebuild plus one pod's allocation;
//   - kubemanager-restart-s: the same for kubemanager: a new pod's
//     network-status, without waiting for its full resync of the pods;
//   - controller-standby-ready-s and controller-leader-start-s: the
//     controller's lease handed over as a rollout does (measureRollout);
//   - agent-restart-s: an agent killed (SIGKILL, as a crash) and started
//     again, to a successful CNI ADD on its node of a pod whose network
//     is allocated.
//
// It returns the namespaces of its probe pods, for deletePods.
//
// Without leader election (one replica): the lease of a killed leader
// (15 s) is a setting, not the rebuild's cost.
func measureRestarts(b *testing.B, s *kontrailStack) (namespaces []string) {
	b.Helper()
	c := s.env.Client
	for _, name := range []string{"controller", "kubemanager"} {
		cmd := &s.controller
		if name == "kubemanager" {
			cmd = &s.kubemanager
		}
		if err := stop(*cmd); err != nil {
			b.Fatalf("stop the %s: %v", name, err)
		}
		namespace := newNamespace(b, c, name+"-restart")
		namespaces = append(namespaces, namespace)
		start := time.Now()
		next, err := s.start(name)
		if err != nil {
			b.Fatalf("start the %s again: %v", name, err)
		}
		*cmd = next
		pod := benchPod(namespace, "probe", s.nodes[0].Name)
		if err := c.Create(context.Background(), pod); err != nil {
			b.Fatal(err)
		}
		if err := untilNetworkStatus(s.env.Config, namespace, 1, restartLimit); err != nil {
			b.Fatalf("a new pod's network after the %s's restart: %v\n%s", name, err, s.log(name))
		}
		b.ReportMetric(time.Since(start).Seconds(), name+"-restart-s")
		b.Logf("%s restarted at %s; its log's milestones since:\n%s", name, start.UTC().Format(time.RFC3339), s.milestones(name, start))
	}

	namespaces = append(namespaces, measureRollout(b, s))

	// The agent: a pod allocated beforehand, so that the ADD waits for
	// the agent alone.
	namespace := newNamespace(b, c, "agent-restart")
	namespaces = append(namespaces, namespace)
	node := s.nodes[0]
	pod := benchPod(namespace, "probe", node.Name)
	if err := c.Create(context.Background(), pod); err != nil {
		b.Fatal(err)
	}
	if err := untilNetworkStatus(s.env.Config, namespace, 1, restartLimit); err != nil {
		b.Fatalf("the agent-restart probe's network: %v", err)
	}
	node.StopAgent()
	start := time.Now()
	if err := node.StartAgent(s.agentOptions); err != nil {
		b.Fatal(err)
	}
	var sb *sandbox
	var err error
	for sb == nil && time.Since(start) < restartLimit {
		if sb, err = s.add(node, pod); err != nil {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if sb == nil {
		b.Fatalf("CNI ADD after the agent's restart: %v\n%s", err, lastBytes(node.AgentLog(), 4000))
	}
	b.ReportMetric(time.Since(start).Seconds(), "agent-restart-s")
	if err := sb.del(); err != nil {
		b.Error(err)
	}
	return namespaces
}

// measureRollout hands the controller's lease over as a Deployment's
// rollout does (maxUnavailable 0): a new replica starts beside the
// leader, is ready once its caches are synced (its /readyz), then the
// leader ends by SIGTERM and releases the lease. It reports
// controller-leader-start-s, from that SIGTERM to a new pod's
// network-status: the new leader's lease, its rebuild of every
// allocation from the apiserver (State.Load), and the pod's allocation.
func measureRollout(b *testing.B, s *kontrailStack) string {
	b.Helper()
	c := s.env.Client
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	probe := l.Addr().String()
	_ = l.Close()
	started := time.Now()
	next, err := s.start("controller", "--health-probe-bind-address", probe)
	if err != nil {
		b.Fatalf("start a second controller: %v", err)
	}
	for {
		resp, err := http.Get("http://" + probe + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Since(started) > restartLimit {
			b.Fatalf("the second controller was not ready within %s: %v\n%s", restartLimit, err, s.log("controller"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.ReportMetric(time.Since(started).Seconds(), "controller-standby-ready-s")
	namespace := newNamespace(b, c, "controller-rollout")
	start := time.Now()
	if err := stop(s.controller); err != nil {
		b.Fatalf("stop the leading controller: %v", err)
	}
	s.controller = next
	pod := benchPod(namespace, "probe", s.nodes[0].Name)
	if err := c.Create(context.Background(), pod); err != nil {
		b.Fatal(err)
	}
	if err := untilNetworkStatus(s.env.Config, namespace, 1, restartLimit); err != nil {
		b.Fatalf("a new pod's network after the controller's rollout: %v\n%s", err, s.log("controller"))
	}
	b.ReportMetric(time.Since(start).Seconds(), "controller-leader-start-s")
	b.Logf("controller rollout: the leader ended at %s; the new leader's milestones since:\n%s", start.UTC().Format(time.RFC3339), s.milestones("controller", start))
	return namespace
}

// stop ends a component's process with SIGTERM and waits.
func stop(cmd *exec.Cmd) error {
	if cmd == nil || cmd.Process == nil {
		return nil
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return nil
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("did not end within 30 s of SIGTERM: killed")
	}
}

func lastBytes(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// restartMilestones are the log messages that mark a restarted
// component's way to its first reconcile: its start, its caches synced
// (the lease is asked for after them), the lease, the last of its
// controllers' workers started, the controller's rebuild of its
// allocations (with each part's seconds).
var restartMilestones = []string{"Starting manager", "Attempting to acquire leader lease", "Successfully acquired lease", "Starting workers", "Rebuilt allocations"}

// milestones are, of name's log since start (a restarted process's log
// follows its predecessor's), the last line with each of
// restartMilestones.
func (s *kontrailStack) milestones(name string, start time.Time) string {
	f, err := os.Open(filepath.Join(s.dir, name+".log"))
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	last := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line struct {
			TS  string `json:"ts"`
			Msg string `json:"msg"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue
		}
		ts, err := time.Parse(time.RFC3339Nano, line.TS)
		if err != nil || ts.Before(start.Truncate(time.Second)) {
			continue
		}
		for _, m := range restartMilestones {
			if strings.Contains(line.Msg, m) {
				last[m] = "  " + sc.Text()
			}
		}
	}
	var out []string
	for _, m := range restartMilestones {
		if l, ok := last[m]; ok {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
