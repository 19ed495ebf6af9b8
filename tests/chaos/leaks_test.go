package chaos

import (
	"fmt"
	"os/exec"
	"regexp"
	"strings"
)

// leftovers lists what the suite's pods and networks left behind once
// they are all deleted (the sweep of tests/e2e/leaks_test.go): Kontrail
// objects of pods (VirtualMachines, their interfaces, InstanceIPs but the
// services'), endpoints the VirtualRouters still publish, and on each
// node the pods' host ends (kv*), router legs (kr*), forwarding entries to
// other nodes or pinned on the bridges, and routes over the networks'
// bridges but the default pod network's. An error (the apiserver not
// answering) is a leftover too, so that the wait goes on.
func leftovers() []string {
	var out []string
	get := func(args ...string) string {
		o, err := runOut(args...)
		if err != nil {
			out = append(out, "(could not look: "+err.Error()+")")
		}
		return o
	}
	for _, kind := range []string{"vm", "vmi"} {
		for _, o := range strings.Fields(get("get", kind, "-A", "-o", "name")) {
			out = append(out, o)
		}
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
	podRoute := regexp.MustCompile(`^10\.244\.0\.0/16 dev kbr\d+ `)
	for i := 1; i <= 2; i++ {
		netns := theLab.NodeNetns(i)
		ipn := func(args ...string) string {
			b, err := exec.Command("ip", append([]string{"-n", netns}, args...)...).CombinedOutput()
			if err != nil {
				out = append(out, fmt.Sprintf("(ip -n %s %s: %v: %s)", netns, strings.Join(args, " "), err, b))
			}
			return string(b)
		}
		for _, line := range strings.Split(ipn("-o", "link", "show", "type", "veth"), "\n") {
			if f := strings.Fields(line); len(f) > 1 && (strings.HasPrefix(f[1], "kv") || strings.HasPrefix(f[1], "kr")) {
				out = append(out, netns+": link "+strings.TrimSuffix(f[1], ":"))
			}
		}
		b, err := exec.Command("bridge", "-n", netns, "fdb", "show").CombinedOutput()
		if err != nil {
			out = append(out, fmt.Sprintf("(bridge -n %s fdb show: %v: %s)", netns, err, b))
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, " dst ") || (strings.Contains(line, " master kbr") && strings.HasSuffix(strings.TrimSpace(line), " static")) {
				out = append(out, netns+": fdb "+line)
			}
		}
		for _, line := range strings.Split(ipn("route", "show"), "\n") {
			if strings.Contains(line, " dev kbr") && !podRoute.MatchString(line) {
				out = append(out, netns+": route "+line)
			}
		}
	}
	return out
}
