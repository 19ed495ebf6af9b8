package lab

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
)

// podNetworkRoute is the one route over a bridge that stays: the default
// pod network's.
var podNetworkRoute = regexp.MustCompile(`^10\.244\.0\.0/16 dev kbr\d+ `)

// Leftovers lists what pods and networks left behind once they are all
// deleted, on the lab's first n nodes: Kontrail objects of pods
// (VirtualMachines, their interfaces, InstanceIPs but the services'),
// endpoints the VirtualRouters still publish, and on each node the pods'
// host ends (kv*), router legs (kr*), forwarding entries to other nodes or
// pinned on the bridges, and routes over the networks' bridges but the
// default pod network's. What could not be looked at (the apiserver not
// answering) is a leftover too, so that a wait on the list goes on and a
// check that fails says why.
func (l *Lab) Leftovers(ctx context.Context, n int) []string {
	var out []string
	get := func(args ...string) string {
		o, err := l.Kubectl(ctx, args...)
		if err != nil {
			out = append(out, "(could not look: "+err.Error()+")")
		}
		return o
	}
	for _, kind := range []string{"vm", "vmi"} {
		out = append(out, strings.Fields(get("get", kind, "-A", "-o", "name"))...)
	}
	iips := get("get", "iip", "-o", `jsonpath={range .items[*]}{.metadata.name} {.spec.virtualNetworkReference.name} {.spec.instanceIPAddress}{"\n"}{end}`)
	for _, line := range strings.Split(strings.TrimSpace(iips), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[1] != "default-servicenetwork" {
			out = append(out, "instanceip/"+f[0]+" on "+strings.Join(f[1:], " "))
		}
	}
	if eps := get("get", "vr", "-o", "jsonpath={.items[*].status.endpoints}"); strings.TrimSpace(eps) != "" {
		out = append(out, "VirtualRouter endpoints: "+eps)
	}
	for i := 1; i <= n; i++ {
		netns := l.NodeNetns(i)
		run := func(tool string, args ...string) string {
			b, err := exec.CommandContext(ctx, tool, append([]string{"-n", netns}, args...)...).CombinedOutput()
			if err != nil {
				out = append(out, fmt.Sprintf("(%s -n %s %s: %v: %s)", tool, netns, strings.Join(args, " "), err, b))
			}
			return string(b)
		}
		for _, line := range strings.Split(run("ip", "-o", "link", "show", "type", "veth"), "\n") {
			if f := strings.Fields(line); len(f) > 1 && (strings.HasPrefix(f[1], "kv") || strings.HasPrefix(f[1], "kr")) {
				out = append(out, netns+": link "+strings.TrimSuffix(f[1], ":"))
			}
		}
		for _, line := range strings.Split(run("bridge", "fdb", "show"), "\n") {
			if strings.Contains(line, " dst ") || (strings.Contains(line, " master kbr") && strings.HasSuffix(strings.TrimSpace(line), " static")) {
				out = append(out, netns+": fdb "+line)
			}
		}
		for _, line := range strings.Split(run("ip", "route", "show"), "\n") {
			if strings.Contains(line, " dev kbr") && !podNetworkRoute.MatchString(line) {
				out = append(out, netns+": route "+line)
			}
		}
	}
	return out
}
