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
// pinned on the bridges, routes over the networks' bridges but the
// default pod network's, and fabric forwarding's host routes. What could not be looked at (the apiserver not
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
	// The cluster's add-ons (CoreDNS, in AddonNamespace) stay with the lab:
	// what their pods hold is not a leftover. Their pods' UIDs name their
	// host ends (each one's alias), their interfaces' MACs their forwarding
	// entries.
	addonUIDs := strings.Fields(get("-n", AddonNamespace, "get", "pods", "-o", "jsonpath={.items[*].metadata.uid}"))
	addonMACs := strings.Fields(get("-n", AddonNamespace, "get", "vmi", "-o", "jsonpath={.items[*].spec.virtualMachineInterfaceMacAddresses.macAddress[*]}"))
	// With add-on pods on the pod network, its VXLAN device floods to the
	// nodes that host them.
	// (the cluster's pod network is in kubemanager's <cluster>-contrail
	// namespace; an isolated namespace has its own.)
	podVNI := ""
	for _, line := range strings.Split(get("get", "vn", "-A", "-l", "core.juniper.net/virtualnetwork=default-podnetwork",
		"-o", `jsonpath={range .items[*]}{.metadata.namespace} {.status.virtualNetworkNetworkId}{"\n"}{end}`), "\n") {
		if f := strings.Fields(line); len(f) == 2 && strings.HasSuffix(f[0], "-contrail") {
			podVNI = f[1]
		}
	}
	ofAddon := func(line string) bool {
		if len(addonUIDs) > 0 && podVNI != "" && strings.HasPrefix(line, "00:00:00:00:00:00 dev kvx"+podVNI+" ") {
			return true
		}
		for _, x := range append(addonUIDs, addonMACs...) {
			if strings.Contains(line, x) {
				return true
			}
		}
		return false
	}
	for _, kind := range []string{"vm", "vmi"} {
		for _, line := range strings.Split(strings.TrimSpace(get("get", kind, "-A", "-o", `jsonpath={range .items[*]}{.metadata.namespace} {.kind}/{.metadata.name}{"\n"}{end}`)), "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[0] != AddonNamespace {
				out = append(out, strings.ToLower(f[1]))
			}
		}
	}
	// name|network|address|the namespace of its interface (none for a Service's)
	iips := get("get", "iip", "-o", `jsonpath={range .items[*]}{.metadata.name}|{.spec.virtualNetworkReference.name}|{.spec.instanceIPAddress}|{.spec.virtualMachineInterfaceReferences[0].namespace}{"\n"}{end}`)
	for _, line := range strings.Split(strings.TrimSpace(iips), "\n") {
		if f := strings.Split(line, "|"); len(f) == 4 && f[1] != "default-servicenetwork" && f[3] != AddonNamespace {
			out = append(out, "instanceip/"+f[0]+" on "+f[1]+" "+f[2])
		}
	}
	eps := get("get", "vr", "-o", `jsonpath={range .items[*].status.endpoints[*]}{.virtualMachineInterface} {.network} {.mac} {.ips}{"\n"}{end}`)
	for _, line := range strings.Split(strings.TrimSpace(eps), "\n") {
		if line != "" && !strings.HasPrefix(line, AddonNamespace+"/") {
			out = append(out, "VirtualRouter endpoint: "+line)
		}
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
		for _, line := range strings.Split(run("ip", "-d", "-o", "link", "show", "type", "veth"), "\n") {
			if f := strings.Fields(line); len(f) > 1 && (strings.HasPrefix(f[1], "kv") || strings.HasPrefix(f[1], "kr")) && !ofAddon(line) {
				out = append(out, netns+": link "+strings.TrimSuffix(f[1], ":"))
			}
		}
		for _, line := range strings.Split(run("bridge", "fdb", "show"), "\n") {
			if (strings.Contains(line, " dst ") || (strings.Contains(line, " master kbr") && strings.HasSuffix(strings.TrimSpace(line), " static"))) && !ofAddon(line) {
				out = append(out, netns+": fdb "+line)
			}
		}
		for _, line := range strings.Split(run("ip", "route", "show"), "\n") {
			if strings.Contains(line, " dev kbr") && !podNetworkRoute.MatchString(line) {
				out = append(out, netns+": route "+line)
			}
		}
		// Fabric forwarding's host routes (protocol 75) go with their pods.
		for _, family := range []string{"-4", "-6"} {
			for _, line := range strings.Split(strings.TrimSpace(run("ip", family, "route", "show", "proto", "75")), "\n") {
				if line != "" && !ofAddon(line) {
					out = append(out, netns+": fabric route "+line)
				}
			}
		}
	}
	return out
}
