package chaos

import (
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"
	"time"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	corev1 "k8s.io/api/core/v1"
)

// kernelIface is an interface as the pod's kernel has it.
type kernelIface struct {
	mac   string
	addrs []string // without prefix length; IPv6 link-local left out
}

var (
	linkLine = regexp.MustCompile(`^\d+:\s+([^:@\s]+)(@[^:\s]+)?:\s.*\slink/(\S+)\s+([0-9a-fA-F:]+)`)
	addrLine = regexp.MustCompile(`^\d+:\s+(\S+)\s+(inet6?)\s+([0-9a-fA-F.:]+)/\d+`)
)

// podKernel reads a pod's interfaces from its kernel (ip -o link/addr
// show inside it).
func podKernel(pod string) (map[string]*kernelIface, string, error) {
	out, err := runOut("-n", ns, "exec", pod, "--", "sh", "-c", "ip -o link show; echo ==; ip -o addr show")
	if err != nil {
		return nil, out, err
	}
	ifaces, err := parseKernel(out)
	return ifaces, out, err
}

// parseKernel reads `ip -o link show; echo ==; ip -o addr show`.
func parseKernel(out string) (map[string]*kernelIface, error) {
	links, addrs, ok := strings.Cut(out, "==\n")
	if !ok {
		return nil, fmt.Errorf("unexpected output of ip: %q", out)
	}
	ifaces := map[string]*kernelIface{}
	for _, line := range strings.Split(links, "\n") {
		// Ethernet links but the fallback devices a tunnel module puts in
		// every namespace (gretap0@NONE, erspan0@NONE).
		if m := linkLine.FindStringSubmatch(line); m != nil && m[3] == "ether" && m[2] != "@NONE" {
			ifaces[m[1]] = &kernelIface{mac: strings.ToLower(m[4])}
		}
	}
	for _, line := range strings.Split(addrs, "\n") {
		m := addrLine.FindStringSubmatch(line)
		if m == nil || ifaces[m[1]] == nil {
			continue
		}
		if ip := net.ParseIP(m[3]); ip == nil || ip.IsLinkLocalUnicast() {
			continue
		}
		ifaces[m[1]].addrs = append(ifaces[m[1]].addrs, m[3])
	}
	return ifaces, nil
}

func (k *kernelIface) String() string {
	if k == nil {
		return "(no such interface)"
	}
	return strings.Join(k.addrs, ",") + " " + k.mac
}

// sameSet compares address lists as sets.
func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	x, y := append([]string(nil), a...), append([]string(nil), b...)
	sort.Strings(x)
	sort.Strings(y)
	return strings.Join(x, ",") == strings.Join(y, ",")
}

// chaosPods lists the suite's pods as the apiserver has them now.
func chaosPods() ([]corev1.Pod, error) {
	out, err := runOut("-n", ns, "get", "pods", "-o", "json")
	if err != nil {
		return nil, err
	}
	var list corev1.PodList
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// checkInvariants checks, after a cycle has settled, every running pod
// against its kernel (invariant 2) and its first network-status
// (invariant 1), addresses and MACs across pods, kernels included
// (invariant 3), and the VirtualNetworks' VNIs (invariant 3).
func checkInvariants() {
	pods, err := chaosPods()
	if err != nil {
		rec.note("the invariants were not checked: %v", err)
		return
	}
	type holder struct{ pod, how string }
	held := map[string][]holder{} // network \x00 what -> holders
	hold := func(network, what, pod, how string) {
		key := network + "\x00" + what
		for _, h := range held[key] {
			if h.pod == pod {
				return
			}
		}
		held[key] = append(held[key], holder{pod, how})
	}
	for _, pod := range pods {
		st, perr := parseStatus(pod.Annotations[nadv1.NetworkStatusAnnot])
		track := theWatchers.track(pod.UID)
		desc := fmt.Sprintf("%s/%s (uid %s, node %s)", pod.Namespace, pod.Name, pod.UID, pod.Spec.NodeName)
		for _, e := range st {
			for _, ip := range e.IPs {
				hold(e.Name, "address "+ip, desc, "network-status")
			}
			if e.Mac != "" {
				hold(e.Name, "MAC "+strings.ToLower(e.Mac), desc, "network-status")
			}
		}
		if track != nil && track.running {
			compareBaseline(&pod, st, track, time.Now())
		}
		if pod.Status.Phase != corev1.PodRunning || pod.DeletionTimestamp != nil {
			continue
		}
		now := time.Now()
		kernel, out, err := podKernel(pod.Name)
		if err != nil {
			rec.note("kubectl exec %s (ip show) failed, its kernel was not checked: %v: %s", pod.Name, err, strings.TrimSpace(out))
			continue
		}
		rec.mu.Lock()
		rec.checks++
		rec.mu.Unlock()
		if perr != nil || len(st) == 0 {
			rec.violate("inv2/nostatus/"+string(pod.UID), violation{Invariant: "2 (network-status equals the kernel)", When: now, Pod: desc,
				Expected: "a network-status for the interfaces it runs with", Seen: fmt.Sprintf("none (%v); %s: %q; kernel: %s", perr, annotationFailure,
					pod.Annotations[annotationFailure], describeKernel(kernel))})
		}
		// The network each kernel interface is on, as the pod was plugged:
		// its first network-status, else its current one.
		ifaceNet := map[string]string{}
		for _, list := range [][]nadv1.NetworkStatus{st, baselineOf(track)} {
			for _, e := range list {
				ifaceNet[e.Interface] = e.Name
			}
		}
		for name, ki := range kernel {
			network := ifaceNet[name]
			if network == "" {
				if name != "lo" {
					rec.violate("inv2/extra/"+string(pod.UID)+"/"+name, violation{Invariant: "2 (network-status equals the kernel)", When: now, Pod: desc,
						Expected: "no interface but those of its network-status", Seen: fmt.Sprintf("interface %s (%s) in its kernel", name, ki)})
				}
				continue
			}
			// A kernel address its network-status no longer names: say
			// what the status says, and since when (the violation of
			// invariant 1 that released it).
			cur := statusOn(st, network)
			how := "kernel " + name
			if cur == nil || !sameSet(cur.IPs, ki.addrs) || !strings.EqualFold(cur.Mac, ki.mac) {
				how += "; its network-status: " + describeEntry(cur) + rec.changedSince(string(pod.UID), network)
			}
			for _, a := range ki.addrs {
				hold(network, "address "+a, desc, how)
			}
			hold(network, "MAC "+ki.mac, desc, how)
		}
		for i := range st {
			e := &st[i]
			ki := kernel[e.Interface]
			if ki != nil && strings.EqualFold(ki.mac, e.Mac) && sameSet(ki.addrs, e.IPs) {
				continue
			}
			rec.violate("inv2/"+string(pod.UID)+"/"+e.Name+"/"+describeEntry(e)+"/"+ki.String(), violation{Invariant: "2 (network-status equals the kernel)",
				When: now, Pod: desc, Network: e.Name,
				Expected: "the kernel's " + e.Interface + " with " + strings.Join(e.IPs, ",") + " " + e.Mac + " (network-status)",
				Seen:     "kernel " + e.Interface + ": " + ki.String()})
		}
		// Invariant 1 in the kernel: what it was plugged with stays.
		for _, first := range baselineOf(track) {
			ki := kernel[first.Interface]
			if ki != nil && strings.EqualFold(ki.mac, first.Mac) && sameSet(ki.addrs, first.IPs) {
				continue
			}
			rec.violate("inv1/kernel/"+string(pod.UID)+"/"+first.Name+"/"+ki.String(), violation{Invariant: "1 (a running pod keeps its addresses and MACs, kernel)",
				When: now, Pod: desc, Network: first.Name,
				Expected: fmt.Sprintf("kernel %s with %s %s, as first seen Running in cycle %d", first.Interface, strings.Join(first.IPs, ","), first.Mac, track.baselineCycle),
				Seen:     "kernel " + first.Interface + ": " + ki.String()})
		}
	}
	for key, hs := range held {
		if len(hs) < 2 {
			continue
		}
		network, what, _ := strings.Cut(key, "\x00")
		var who []string
		for _, h := range hs {
			who = append(who, h.pod+" ["+h.how+"]")
		}
		sort.Strings(who)
		rec.violate("inv3/check/"+key+"/"+strings.Join(who, ","), violation{Invariant: "3 (no two pods share an address or MAC on a network)",
			Pod: strings.Join(who, " and "), Network: network, Expected: what + " on one pod only", Seen: fmt.Sprintf("on %d pods", len(hs))})
	}
	checkVNIs()
}

func baselineOf(t *podTrack) []nadv1.NetworkStatus {
	if t == nil {
		return nil
	}
	return t.baseline
}

func describeKernel(k map[string]*kernelIface) string {
	var parts []string
	for name, ki := range k {
		parts = append(parts, name+" "+ki.String())
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

// checkVNIs: no two VirtualNetworks share a VNI (kubectl get vn -A).
func checkVNIs() {
	out, err := runOut("get", "vn", "-A", "-o", "json")
	if err != nil {
		rec.note("the VNIs were not checked: %v", err)
		return
	}
	var list struct {
		Items []struct {
			Metadata struct {
				Namespace, Name, UID string
				DeletionTimestamp    *string
			}
			Status struct {
				VNI int64 `json:"virtualNetworkNetworkId"`
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		rec.note("kubectl get vn: %v", err)
		return
	}
	byVNI := map[int64][]string{}
	for _, vn := range list.Items {
		if vn.Status.VNI != 0 {
			d := vn.Metadata.Namespace + "/" + vn.Metadata.Name + " (uid " + vn.Metadata.UID + ")"
			if vn.Metadata.DeletionTimestamp != nil {
				d += " (being deleted)"
			}
			byVNI[vn.Status.VNI] = append(byVNI[vn.Status.VNI], d)
		}
	}
	for vni, vns := range byVNI {
		if len(vns) > 1 {
			sort.Strings(vns)
			rec.violate(fmt.Sprintf("inv3/vni/%d/%s", vni, strings.Join(vns, ",")), violation{Invariant: "3 (no two VirtualNetworks share a VNI)",
				Pod: strings.Join(vns, " and "), Expected: fmt.Sprintf("VNI %d on one VirtualNetwork", vni), Seen: fmt.Sprintf("on %d", len(vns))})
		}
	}
}
