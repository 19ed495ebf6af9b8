package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// waitFor polls check every 2 s until it is done; when timeout passes it
// returns an error saying what was waited for and the check's last
// reason, which the caller records (a cycle goes on after a system that
// did not recover, and says so).
func waitFor(what string, timeout time.Duration, check func() (bool, string)) error {
	deadline := time.Now().Add(timeout)
	for {
		done, why := check()
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not done after %s: %s", what, timeout, why)
		}
		select {
		case <-interrupt.Done():
			return fmt.Errorf("%s: interrupted (%v): %s", what, interrupt.Err(), why)
		case <-time.After(2 * time.Second): // polling interval
		}
	}
}

// interrupt is the running spec's context: a spec that times out or is
// interrupted stops waiting.
var interrupt context.Context = context.Background()

// kontrailNamespaces are where Kontrail's pods run.
var kontrailNamespaces = map[string]bool{"kontrail-system": true, "contrail-system": true, "contrail": true}

// settledState says whether the system has recovered: every Kontrail pod
// Running and ready (the agents on both nodes), the four resources
// Available, both NAD networks Success with a VNI, a VirtualRouter per
// node, every Deployment rolled out to its replicas, and every pod of
// the suite Running with a network-status. Otherwise it says what is not.
func settledState() (bool, string) {
	var why []string
	out, err := runOut("get", "pods", "-A", "-o", "json")
	if err != nil {
		return false, err.Error()
	}
	var pods corev1.PodList
	if err := json.Unmarshal([]byte(out), &pods); err != nil {
		return false, err.Error()
	}
	agents := 0
	for _, p := range pods.Items {
		switch {
		case kontrailNamespaces[p.Namespace]:
			if p.Labels["app"] == "contrail-vrouter-nodes" && p.DeletionTimestamp == nil {
				agents++
			}
			if w := podNotReady(&p); w != "" {
				why = append(why, p.Namespace+"/"+p.Name+" "+w)
			}
		case p.Namespace == ns:
			if w := podNotReady(&p); w != "" {
				why = append(why, p.Name+" "+w)
			} else if p.Annotations[nadv1.NetworkStatusAnnot] == "" {
				why = append(why, p.Name+" has no network-status")
			}
		}
	}
	if agents != 2 {
		why = append(why, fmt.Sprintf("%d vrouter agent pods (want 2)", agents))
	}

	out, err = runOut("get", "apiservers,controllers,kubemanagers,vrouters,virtualnetworks,virtualrouters,deployments", "-A", "-o", "json")
	if err != nil {
		return false, err.Error()
	}
	var objs struct {
		Items []struct {
			Kind     string
			Metadata struct {
				Namespace, Name   string
				DeletionTimestamp *string
			}
			Spec struct {
				Replicas *int32
			}
			Status struct {
				Conditions []struct{ Type, Status, Reason, Message string }
				State      string
				VNI        int64 `json:"virtualNetworkNetworkId"`
				Ready      int32 `json:"readyReplicas"`
				Updated    int32 `json:"updatedReplicas"`
				Replicas   int32
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &objs); err != nil {
		return false, err.Error()
	}
	vns := map[string]bool{}
	vrs := 0
	for _, o := range objs.Items {
		name := o.Metadata.Namespace + "/" + o.Metadata.Name
		switch o.Kind {
		case "ApiServer", "Controller", "Kubemanager", "Vrouter":
			available := false
			for _, c := range o.Status.Conditions {
				if c.Type == "Available" && c.Status == "True" {
					available = true
				}
			}
			if !available {
				why = append(why, o.Kind+" "+name+" not Available")
			}
		case "VirtualNetwork":
			if o.Metadata.Namespace == ns && o.Metadata.DeletionTimestamp == nil && o.Status.State == "Success" && o.Status.VNI != 0 {
				vns[o.Metadata.Name] = true
			}
		case "VirtualRouter":
			if o.Metadata.DeletionTimestamp == nil {
				vrs++
			}
		case "Deployment":
			if o.Metadata.Namespace != ns {
				continue
			}
			want := int32(1)
			if o.Spec.Replicas != nil {
				want = *o.Spec.Replicas
			}
			if o.Status.Ready != want || o.Status.Updated != want || o.Status.Replicas != want {
				why = append(why, fmt.Sprintf("deployment %s: %d ready, %d updated, %d in all (want %d)", o.Metadata.Name, o.Status.Ready, o.Status.Updated, o.Status.Replicas, want))
			}
		}
	}
	for _, n := range nads {
		if !vns[n.name] {
			why = append(why, "VirtualNetwork "+ns+"/"+n.name+" not Success with a VNI")
		}
	}
	if vrs != 2 {
		why = append(why, fmt.Sprintf("%d VirtualRouters (want 2)", vrs))
	}
	sort.Strings(why)
	return len(why) == 0, strings.Join(why, "; ")
}

// podNotReady says why a pod is not Running and ready ("" if it is); a
// pod being deleted counts as not gone yet.
func podNotReady(p *corev1.Pod) string {
	if p.DeletionTimestamp != nil {
		return "terminating"
	}
	if p.Status.Phase != corev1.PodRunning {
		reason := string(p.Status.Phase)
		for _, c := range p.Status.Conditions {
			if c.Status != corev1.ConditionTrue && c.Message != "" {
				reason += " (" + c.Message + ")"
				break
			}
		}
		return reason
	}
	for _, c := range p.Status.ContainerStatuses {
		if !c.Ready {
			w := "not ready"
			if c.State.Waiting != nil {
				w = c.State.Waiting.Reason
				if c.State.Waiting.Message != "" {
					w += ": " + c.State.Waiting.Message
				}
			}
			return fmt.Sprintf("container %s %s (restarts %d)", c.Name, w, c.RestartCount)
		}
	}
	return ""
}

// recoveryTimes measures, for the kills and evictions of a cycle, how
// long the component took to be ready again: from the fault to its pod's
// Ready condition (whole seconds).
func recoveryTimes(faults []*fault) {
	out, err := runOut("get", "pods", "-A", "-o", "json")
	if err != nil {
		return
	}
	var pods corev1.PodList
	if err := json.Unmarshal([]byte(out), &pods); err != nil {
		return
	}
	for _, f := range faults {
		if f.Err != "" || !(strings.HasPrefix(f.Kind, "kill-") || strings.HasPrefix(f.Kind, "evict-")) {
			continue
		}
		_, name, _ := strings.Cut(f.Kind, "-")
		c := componentNamed(name)
		sel := strings.SplitN(c.selector, "=", 2)
		var ready time.Time
		for _, p := range pods.Items {
			if p.Namespace != c.namespace || p.Labels[sel[0]] != sel[1] || (c.name == "agent" && !strings.Contains(f.Target, p.Spec.NodeName)) {
				continue
			}
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue && cond.LastTransitionTime.After(f.Start.Add(-time.Second)) {
					ready = cond.LastTransitionTime.Time
				}
			}
		}
		if !ready.IsZero() {
			rec.mu.Lock()
			rec.recovery[f.Kind] = append(rec.recovery[f.Kind], ready.Sub(f.Start.Truncate(time.Second)))
			rec.mu.Unlock()
		}
	}
}

// churn scales or restarts the Deployments: pods are born and die.
func churn(cycle int) {
	out, err := runOut("-n", ns, "get", "deployments", "-o", "json")
	if err != nil {
		rec.note("churn: %v", err)
		return
	}
	var list appsv1.DeploymentList
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		rec.note("churn: %v", err)
		return
	}
	current := map[string]int32{}
	for _, d := range list.Items {
		if d.Spec.Replicas != nil {
			current[d.Name] = *d.Spec.Replicas
		}
	}
	var did []string
	for _, name := range deployments {
		if rnd.Intn(3) == 0 {
			if out, err := run("-n", ns, "rollout", "restart", "deployment/"+name); err != nil {
				rec.note("rollout restart %s: %v: %s", name, err, out)
				continue
			}
			did = append(did, name+" restarted")
			continue
		}
		r := int32(1 + rnd.Intn(maxReplicas))
		if r == current[name] {
			r = r%maxReplicas + 1
		}
		if out, err := run("-n", ns, "scale", "deployment/"+name, fmt.Sprintf("--replicas=%d", r)); err != nil {
			rec.note("scale %s: %v: %s", name, err, out)
			continue
		}
		did = append(did, fmt.Sprintf("%s %d->%d", name, current[name], r))
	}
	logf("cycle %d: churn: %s", cycle, strings.Join(did, ", "))
}
