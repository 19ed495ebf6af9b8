package e2e

import (
	"os/exec"
	"regexp"
	"strings"

	. "github.com/onsi/gomega"
)

// leftovers lists what the suite's pods and networks left behind once
// they are all deleted: Kontrail objects of pods (VirtualMachines, their
// interfaces, InstanceIPs but the services'), endpoints the VirtualRouters
// still publish, and on each node the pods' host ends (kv*), router legs
// (kr*), forwarding entries to other nodes or pinned on the bridges, and
// routes over the networks' bridges but the default pod network's.
func leftovers() []string {
	var out []string
	for _, kind := range []string{"vm", "vmi"} {
		for _, o := range strings.Fields(k("get", kind, "-A", "-o", "name")) {
			out = append(out, o)
		}
	}
	iips := k("get", "iip", "-o", `jsonpath={range .items[*]}{.metadata.name} {.spec.virtualNetworkReference.name}{"\n"}{end}`)
	for _, line := range strings.Split(strings.TrimSpace(iips), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[1] != "default-servicenetwork" {
			out = append(out, "instanceip/"+f[0]+" on "+f[1])
		}
	}
	if eps := k("get", "vr", "-o", "jsonpath={.items[*].status.endpoints}"); strings.TrimSpace(eps) != "" {
		out = append(out, "VirtualRouter endpoints: "+eps)
	}
	podRoute := regexp.MustCompile(`^10\.244\.0\.0/16 dev kbr\d+ `)
	for i := 1; i <= 2; i++ {
		ns := theLab.NodeNetns(i)
		ipn := func(args ...string) string {
			b, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput()
			Expect(err).NotTo(HaveOccurred(), string(b))
			return string(b)
		}
		for _, line := range strings.Split(ipn("-o", "link", "show", "type", "veth"), "\n") {
			if f := strings.Fields(line); len(f) > 1 && (strings.HasPrefix(f[1], "kv") || strings.HasPrefix(f[1], "kr")) {
				out = append(out, ns+": link "+strings.TrimSuffix(f[1], ":"))
			}
		}
		b, err := exec.Command("bridge", "-n", ns, "fdb", "show").CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(b))
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, " dst ") || (strings.Contains(line, " master kbr") && strings.HasSuffix(strings.TrimSpace(line), " static")) {
				out = append(out, ns+": fdb "+line)
			}
		}
		for _, line := range strings.Split(ipn("route", "show"), "\n") {
			if strings.Contains(line, " dev kbr") && !podRoute.MatchString(line) {
				out = append(out, ns+": route "+line)
			}
		}
	}
	return out
}
