package lab

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/kontrail/kontrail/tests/internal/lab"
)

// netnsNames are the named network namespaces.
func netnsNames() map[string]bool {
	out, _ := exec.Command("ip", "netns", "list").Output()
	names := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names[f[0]] = true
		}
	}
	return names
}

// leftovers lists what a lab named name in dir left after down: cgroups,
// mounts, processes, its network namespaces and its pods' (podNetns, as
// Lab.PodNetns gave them before down: other suites' labs may run at the
// same time), the fabric bridge, kubelet's log links, the agents' state.
func leftovers(dir, name string, podNetns []string) []string {
	var left []string
	for _, h := range []string{"cpu", "memory", "pids", "cpuset"} {
		if entries, _ := filepath.Glob("/sys/fs/cgroup/" + h + "/" + name + "-*"); len(entries) > 0 {
			left = append(left, fmt.Sprintf("cgroups %v", entries))
		}
	}
	if mounts, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mounts), dir) {
		left = append(left, "mounts under "+dir)
	}
	if ps, _ := exec.Command("pgrep", "-f", dir).Output(); strings.TrimSpace(string(ps)) != "" {
		left = append(left, "processes "+strings.Join(strings.Fields(string(ps)), ","))
	}
	pods := map[string]bool{}
	for _, ns := range podNetns {
		pods[ns] = true
	}
	for ns := range netnsNames() {
		if strings.HasPrefix(ns, name+"-") || pods[ns] {
			left = append(left, "network namespace "+ns)
		}
	}
	if links, _ := exec.Command("ip", "-o", "link", "show").Output(); strings.Contains(string(links), name+"0") {
		left = append(left, "bridge "+name+"0")
	}
	if states, _ := filepath.Glob(filepath.Join(lab.AgentStateDir, name+"-node-*")); len(states) > 0 {
		left = append(left, fmt.Sprintf("agent state %v", states))
	}
	if links, _ := exec.Command("find", "/var/log/containers", "-lname", dir+"/*").Output(); strings.TrimSpace(string(links)) != "" {
		left = append(left, "kubelet log links "+strings.TrimSpace(string(links)))
	}
	return left
}
