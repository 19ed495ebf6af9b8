package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/kontrail/kontrail/tests/internal/lab"
)

// component is one of Kontrail's components as it runs on the lab.
type component struct {
	name, namespace, selector, binary string
}

var components = []component{
	{"controller", "contrail-system", "app=contrail-k8s-controller", "/kontrail-controller"},
	{"kubemanager", "contrail", "app=contrail-k8s-kubemanager", "/kontrail-kubemanager"},
	{"apiserver", "contrail-system", "app=contrail-k8s-apiserver", "/kontrail-apiserver"},
	{"agent", "contrail", "app=contrail-vrouter-nodes", "/kontrail-vrouter-agent"},
	{"operator", "kontrail-system", "control-plane=controller-manager", "/kontrail-operator"},
}

func componentNamed(name string) component {
	for _, c := range components {
		if c.name == name {
			return c
		}
	}
	panic("no component " + name)
}

// faultKinds are every fault the suite injects.
var faultKinds = []string{
	"kill-controller", "kill-kubemanager", "kill-apiserver", "kill-agent", "kill-operator",
	"evict-pod",
	"restart-kube-apiserver", "restart-etcd",
	"delete-vn", "delete-subnet", "delete-ri", "delete-vmi", "delete-iip", "delete-vr",
}

// deck deals the fault kinds in shuffled rounds, so that a short run
// meets each kind once before any twice.
type deck struct{ cards []string }

func (d *deck) draw() string {
	if len(d.cards) == 0 {
		d.cards = append([]string(nil), faultKinds...)
		rnd.Shuffle(len(d.cards), func(i, j int) { d.cards[i], d.cards[j] = d.cards[j], d.cards[i] })
	}
	c := d.cards[0]
	d.cards = d.cards[1:]
	return c
}

var faultDeck deck

// drawFaults picks a cycle's faults: two from the deck, and in the long
// run a kill of a component that has not been killed enough yet.
func drawFaults() []string {
	kinds := []string{faultDeck.draw(), faultDeck.draw()}
	if cfg.long {
		var behind []string
		rec.mu.Lock()
		for _, c := range components {
			if rec.kills[c.name] < cfg.minKills && !contains(kinds, "kill-"+c.name) {
				behind = append(behind, "kill-"+c.name)
			}
		}
		rec.mu.Unlock()
		if len(behind) > 0 {
			kinds = append(kinds, behind[rnd.Intn(len(behind))])
			rnd.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
		}
	}
	return kinds
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// inject injects one fault and records it; it returns at once but for the
// lab's processes, which it restarts and waits for.
func inject(ctx context.Context, cycle int, kind string) *fault {
	f := &fault{Cycle: cycle, Kind: kind, Start: time.Now()}
	var err error
	switch {
	case strings.HasPrefix(kind, "kill-"):
		f.Target, err = kill(componentNamed(strings.TrimPrefix(kind, "kill-")))
	case kind == "evict-pod":
		c := components[rnd.Intn(len(components))]
		f.Target, err = evict(c)
		f.Kind = "evict-" + c.name
	case strings.HasPrefix(kind, "restart-"):
		name := strings.TrimPrefix(kind, "restart-")
		f.Target = "the lab's " + name
		start := time.Now()
		err = theLab.RestartProcess(ctx, name)
		f.Target += fmt.Sprintf(" (serving again after %s)", time.Since(start).Round(100*time.Millisecond))
		if err == nil {
			rec.count(rec.restarts, name)
		}
	case strings.HasPrefix(kind, "delete-"):
		f.Target, err = deleteByHand(strings.TrimPrefix(kind, "delete-"))
	default:
		err = fmt.Errorf("unknown fault %s", kind)
	}
	if err != nil {
		f.Err = err.Error()
	}
	rec.addFault(f)
	logf("cycle %d: fault %s", cycle, f)
	return f
}

// kill SIGKILLs a component's process, found on the host in the lab's
// nodes' cgroups; kubelet restarts the container.
func kill(c component) (string, error) {
	// A component killed or evicted a moment ago may not run yet: wait
	// for it (kubelet's back-off, its pod's scheduling) for a while.
	var procs []lab.NodeProcess
	start := time.Now()
	if err := waitFor("a "+c.binary+" process to kill", 90*time.Second, func() (bool, string) {
		procs = theLab.NodeProcesses(c.binary)
		return len(procs) > 0, "none runs in the lab's nodes"
	}); err != nil {
		return "", err
	}
	waited := ""
	if d := time.Since(start); d > time.Second {
		waited = fmt.Sprintf(" (after waiting %s for it to run)", d.Round(time.Second))
	}
	p := procs[rnd.Intn(len(procs))]
	if err := syscall.Kill(p.PID, syscall.SIGKILL); err != nil {
		return "", fmt.Errorf("kill %d: %w", p.PID, err)
	}
	rec.count(rec.kills, c.name)
	return fmt.Sprintf("%s pid %d on %s%s", c.binary, p.PID, p.Node, waited), nil
}

// evict deletes a component's pod at once (--grace-period=0 --force), as
// an eviction or a lost node would; its controller makes a new one.
func evict(c component) (string, error) {
	out, err := runOut("-n", c.namespace, "get", "pods", "-l", c.selector, "-o", `jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName}{"\n"}{end}`)
	if err != nil {
		return "", err
	}
	var pods []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l != "" {
			pods = append(pods, l)
		}
	}
	if len(pods) == 0 {
		return "", fmt.Errorf("no pod of %s", c.name)
	}
	pick := strings.Fields(pods[rnd.Intn(len(pods))])
	if o, err := run("-n", c.namespace, "delete", "pod", pick[0], "--grace-period=0", "--force", "--wait=false"); err != nil {
		return "", fmt.Errorf("%v: %s", err, strings.TrimSpace(o))
	}
	rec.count(rec.evictions, c.name)
	return fmt.Sprintf("pod %s/%s on %s", c.namespace, pick[0], pick[len(pick)-1]), nil
}

// deleteByHand deletes, with kubectl and without waiting for finalizers,
// a Contrail object running pods depend on: a NAD network's
// VirtualNetwork, Subnet or RoutingInstance, a pod's VMI or InstanceIP,
// a node's VirtualRouter.
func deleteByHand(what string) (string, error) {
	var args []string
	var target string
	switch what {
	case "vn", "subnet", "ri":
		resource := map[string]string{"vn": "virtualnetworks", "subnet": "subnets", "ri": "routinginstances"}[what]
		names, err := runOut("-n", ns, "get", resource, "-o", "jsonpath={.items[*].metadata.name}")
		if err != nil {
			return "", err
		}
		list := strings.Fields(names)
		if len(list) == 0 {
			return "", fmt.Errorf("no %s in %s", resource, ns)
		}
		name := list[rnd.Intn(len(list))]
		args = []string{"-n", ns, "delete", resource, name}
		target = resource + " " + ns + "/" + name
	case "vmi", "iip":
		resource := map[string]string{"vmi": "virtualmachineinterfaces", "iip": "instanceips"}[what]
		out, err := runOut("get", resource, "-A", "-l", labelPodUID, "-o", "json")
		if err != nil {
			return "", err
		}
		var list struct {
			Items []struct {
				Metadata struct {
					Namespace, Name string
					Annotations     map[string]string
				}
				Spec struct {
					Ref     struct{ Namespace, Name string } `json:"virtualNetworkReference"`
					Address string                           `json:"instanceIPAddress"`
				}
			}
		}
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			return "", err
		}
		// Of a running pod of the suite's.
		running := map[string]bool{}
		if pods, err := chaosPods(); err == nil {
			for _, p := range pods {
				if p.Status.Phase == "Running" && p.DeletionTimestamp == nil {
					running[p.Namespace+"/"+p.Name] = true
				}
			}
		}
		var candidates []int
		for i, it := range list.Items {
			if running[it.Metadata.Annotations[annotationPod]] {
				candidates = append(candidates, i)
			}
		}
		if len(candidates) == 0 {
			return "", fmt.Errorf("no %s of a running pod", resource)
		}
		it := list.Items[candidates[rnd.Intn(len(candidates))]]
		args = []string{"delete", resource, it.Metadata.Name}
		if it.Metadata.Namespace != "" {
			args = append([]string{"-n", it.Metadata.Namespace}, args...)
		}
		target = fmt.Sprintf("%s %s (pod %s, network %s/%s", resource, it.Metadata.Name, it.Metadata.Annotations[annotationPod], it.Spec.Ref.Namespace, it.Spec.Ref.Name)
		if it.Spec.Address != "" {
			target += ", " + it.Spec.Address
		}
		target += ")"
	case "vr":
		names, err := runOut("get", "virtualrouters", "-o", "jsonpath={.items[*].metadata.name}")
		if err != nil {
			return "", err
		}
		list := strings.Fields(names)
		if len(list) == 0 {
			return "", fmt.Errorf("no VirtualRouter")
		}
		name := list[rnd.Intn(len(list))]
		args = []string{"delete", "virtualrouters", name}
		target = "virtualrouters " + name
	default:
		return "", fmt.Errorf("cannot delete %s", what)
	}
	// Finalizers may hold the object (a Subnet with addresses in use):
	// the deletion is requested, not waited for.
	if out, err := run(append(args, "--wait=false")...); err != nil {
		return target, fmt.Errorf("%v: %s", err, strings.TrimSpace(out))
	}
	return target, nil
}
