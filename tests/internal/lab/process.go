package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// writeCommand records how a lab process was started: its nsenter
// arguments, as a JSON list.
func writeCommand(path string, nsenterArgs []string) error {
	data, err := json.Marshal(nsenterArgs)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// spawn runs nsenter with its arguments detached (its own session),
// appending to logs/<name>.log, and records the pid in pids/<name>.pid.
func (l *Lab) spawn(name string, nsenterArgs []string) error {
	logf, err := os.OpenFile(l.path("logs", name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command("nsenter", nsenterArgs...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	if err := os.WriteFile(l.path("pids", name+".pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		return err
	}
	return cmd.Process.Release()
}

// RestartProcess crashes a lab process (SIGKILL: no graceful shutdown, as
// a machine losing it would) and starts it again with the command line it
// was started with (pids/<name>.cmd), then waits until it serves again:
// kube-apiserver until it answers /readyz, etcd until the apiserver's
// /readyz/etcd is ok, the registry until it has loaded its images; any
// other process only until it runs. name is as in pids/ (etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler, registry,
// <node>-containerd, <node>-kubelet).
func (l *Lab) RestartProcess(ctx context.Context, name string) error {
	data, err := os.ReadFile(l.path("pids", name+".cmd"))
	if err != nil {
		return fmt.Errorf("restart %s: no recorded command line: %w", name, err)
	}
	var args []string
	if err := json.Unmarshal(data, &args); err != nil {
		return fmt.Errorf("restart %s: %s: %w", name, l.path("pids", name+".cmd"), err)
	}
	if pid := l.pid(name); pid != 0 && alive(pid) {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			return fmt.Errorf("restart %s: kill %d: %w", name, pid, err)
		}
		// The kernel frees its ports and files once it has exited.
		// A multi-threaded process's leader shows as a zombie while its
		// other threads still exit and hold its files (etcd's peer port:
		// a restart at that moment failed "address already in use").
		if err := waitUntil(ctx, 10*time.Second, name+" (pid "+strconv.Itoa(pid)+") exited after SIGKILL", func() (bool, string) {
			reap(pid)
			if !alive(pid) && threads(pid) <= 1 {
				return true, ""
			}
			return false, fmt.Sprintf("still running: %s, %d threads", procState(pid), threads(pid))
		}); err != nil {
			return err
		}
	}
	if name == "registry" {
		_ = os.Remove(l.path("pids", "registry.ready"))
	}
	if err := l.spawn(name, args); err != nil {
		return err
	}
	pid := l.pid(name)
	exited := func() string {
		if !alive(pid) {
			return name + " exited after its restart: " + l.LogTail(name, 20)
		}
		return ""
	}
	switch name {
	case "kube-apiserver":
		if err := l.waitReady(ctx); err != nil {
			return fmt.Errorf("%w %s", err, exited())
		}
		return nil
	case "etcd":
		return waitUntil(ctx, 2*time.Minute, "the apiserver's /readyz/etcd after etcd's restart", func() (bool, string) {
			if why := exited(); why != "" {
				return false, why
			}
			out, err := exec.CommandContext(ctx, filepath.Join(l.K8sBin, "kubectl"), "--kubeconfig", l.Kubeconfig(), "get", "--raw", "/readyz/etcd").CombinedOutput()
			if err == nil && strings.TrimSpace(string(out)) == "ok" {
				// The apiserver may answer from before the restart: etcd
				// must still be running a moment later (one that failed
				// to start exits at once).
				time.Sleep(time.Second)
				if why := exited(); why != "" {
					return false, why
				}
				return true, ""
			}
			return false, fmt.Sprintf("%v: %s; etcd's log: %s", err, strings.TrimSpace(string(out)), l.LogTail(name, 3))
		})
	case "registry":
		return l.waitRegistryLoad(ctx, 1)
	default:
		if why := exited(); why != "" {
			return fmt.Errorf("%s", why)
		}
		return nil
	}
}

// reap collects a process's exit status when it is this process's child
// (the lab started it): a killed child stays a zombie until reaped.
func reap(pid int) {
	var ws syscall.WaitStatus
	_, _ = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
}

// threads is the number of a process's threads (0 when it is gone).
func threads(pid int) int {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(rest))
			return n
		}
	}
	return 0
}

// procState is a process's state line of /proc/<pid>/status.
func procState(pid int) string {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return err.Error()
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "State:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "State:"))
		}
	}
	return "unknown"
}

// NodeProcess is a process running in one of the lab's nodes (in its
// cgroup tree): a pod's container, containerd, a shim.
type NodeProcess struct {
	Node    string
	PID     int
	Cmdline []string
}

// NodeProcesses lists the processes in the lab's nodes' cgroups whose
// command's first word is command (a container's entrypoint, such as
// /kontrail-controller), found by the nodes' cgroups, so that the same
// binary in another lab on this machine is never among them.
func (l *Lab) NodeProcesses(command string) []NodeProcess {
	var out []NodeProcess
	for _, cg := range l.nodeCgroups() {
		for _, pid := range cgroupProcs(cg) {
			data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
			if err != nil || len(data) == 0 {
				continue
			}
			argv := strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
			if argv[0] == command && alive(pid) {
				out = append(out, NodeProcess{Node: cg, PID: pid, Cmdline: argv})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Node < out[j].Node || out[i].Node == out[j].Node && out[i].PID < out[j].PID
	})
	return out
}

// ProcessPID is the pid a lab process (as named in pids/) runs as, 0 if
// it is not running.
func (l *Lab) ProcessPID(name string) int {
	if pid := l.pid(name); pid != 0 && alive(pid) {
		return pid
	}
	return 0
}
