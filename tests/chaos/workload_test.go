package chaos

import (
	"encoding/json"
	"fmt"
	"strings"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"

	"github.com/kontrail/kontrail/tests/internal/lab"
)

// The workload: namespace chaos, two NAD networks, two Deployments whose
// pods name both, scaled and restarted every cycle, and two long-lived
// pingers, one per node, that ping each other on every network.
const (
	ns = "chaos"
	// defaultNetwork is the pod network's name in network-status.
	defaultNetwork = "contrail-k8s-kubemanager-mk-contrail/default-podnetwork"
	pinger1        = "pinger-1"
	pinger2        = "pinger-2"
)

// nads are the NAD networks (name, CIDR).
var nads = []struct{ name, cidr string }{{"net-a", "10.71.0.0/24"}, {"net-b", "10.72.0.0/24"}}

// deployments are the churning workloads; maxReplicas bounds each.
var deployments = []string{"work-a", "work-b"}

const maxReplicas = 4

// networks are the networks every pod of the suite is on, as
// network-status names them: the pod network first.
func networks() []string {
	out := []string{defaultNetwork}
	for _, n := range nads {
		out = append(out, ns+"/"+n.name)
	}
	return out
}

// nadNames is the pods' k8s.v1.cni.cncf.io/networks annotation.
func nadNames() string {
	var names []string
	for _, n := range nads {
		names = append(names, n.name)
	}
	return strings.Join(names, ",")
}

// shortNet is a network's name for the summary (net-a, pod network).
func shortNet(network string) string {
	if network == defaultNetwork {
		return "pod-network"
	}
	return strings.TrimPrefix(network, ns+"/")
}

// cidrNAD is a NAD of the suite's namespace as seeds 000 and 003 write them.
func cidrNAD(name, cidr string) string { return lab.CIDRNAD(ns, name, cidr) }

// pingerPod is a long-lived busybox pod on every network, on a node.
func pingerPod(name, node string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: %s
  labels:
    chaos: pinger
  annotations:
    k8s.v1.cni.cncf.io/networks: '%s'
spec:
  nodeName: %s
  terminationGracePeriodSeconds: 1
  containers:
  - name: busybox
    image: busybox
    command: ["sleep", "1000000"]
`, name, ns, nadNames(), node)
}

// deployment is a churning busybox Deployment on every network.
func deployment(name string, replicas int) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
  namespace: %[2]s
spec:
  replicas: %[3]d
  selector:
    matchLabels:
      app: %[1]s
  template:
    metadata:
      labels:
        app: %[1]s
        chaos: worker
      annotations:
        k8s.v1.cni.cncf.io/networks: '%[4]s'
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: busybox
        image: busybox
        command: ["sleep", "1000000"]
`, name, ns, replicas, nadNames())
}

// parseStatus reads a network-status annotation.
func parseStatus(annotation string) ([]nadv1.NetworkStatus, error) {
	if annotation == "" {
		return nil, nil
	}
	var st []nadv1.NetworkStatus
	if err := json.Unmarshal([]byte(annotation), &st); err != nil {
		return nil, fmt.Errorf("network-status is not JSON: %w: %q", err, annotation)
	}
	return st, nil
}

// statusOn is a network's entry of a network-status (nil when absent).
func statusOn(st []nadv1.NetworkStatus, network string) *nadv1.NetworkStatus {
	for i := range st {
		if st[i].Name == network {
			return &st[i]
		}
	}
	return nil
}

// describeEntry renders one network's entry: interface, addresses, MAC.
func describeEntry(e *nadv1.NetworkStatus) string {
	if e == nil {
		return "(no entry)"
	}
	return fmt.Sprintf("%s %s %s", e.Interface, strings.Join(e.IPs, ","), e.Mac)
}
