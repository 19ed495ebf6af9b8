package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// The seed's pods (seed 004): vn1-pod as the seed's user applied it, and
// a second pod on vn1 on another node.
const (
	SeedPod  = "vn1-pod"
	OtherPod = "vn1-pod-2"
)

// ApplySeed applies the seed's NetworkAttachmentDefinition vn1 and pod
// vn1-pod from config/samples, waits until it runs, then a copy named
// vn1-pod-2 on another node (when there is one), and waits until it runs.
func (l *Lab) ApplySeed(ctx context.Context, repo string) error {
	samples := filepath.Join(repo, "config", "samples")
	if err := l.kubectl(ctx, nil, "apply", "-f", filepath.Join(samples, "seed_nad_vn1.yaml"), "-f", filepath.Join(samples, "seed_pod_vn1.yaml")); err != nil {
		return err
	}
	if err := l.waitPod(ctx, SeedPod); err != nil {
		return err
	}
	node, err := l.Kubectl(ctx, "get", "pod", SeedPod, "-o", "jsonpath={.spec.nodeName}")
	if err != nil {
		return err
	}
	data, err := os.ReadFile(filepath.Join(samples, "seed_pod_vn1.yaml"))
	if err != nil {
		return err
	}
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict(data, &pod); err != nil {
		return fmt.Errorf("seed_pod_vn1.yaml: %w", err)
	}
	pod.Name = OtherPod
	// Another node than vn1-pod's, so that the ping crosses the overlay
	// (preferred: a one-node lab runs it next to vn1-pod).
	if node != "" {
		pod.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{Weight: 100, Preference: corev1.NodeSelectorTerm{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpNotIn, Values: []string{node}}}}}}}}
	}
	out, err := yaml.Marshal(&pod)
	if err != nil {
		return err
	}
	if err := l.kubectlIn(ctx, out, "apply", "-f", "-"); err != nil {
		return err
	}
	return l.waitPod(ctx, OtherPod)
}

// waitPod waits until a pod of the default namespace is Ready.
func (l *Lab) waitPod(ctx context.Context, name string) error {
	if err := l.kubectl(ctx, nil, "wait", "--for=condition=Ready", "pod/"+name, "--timeout=2m"); err != nil {
		out, _ := l.Kubectl(ctx, "describe", "pod", name)
		return fmt.Errorf("%w\n%s", err, out)
	}
	return nil
}

// NetworkStatus is a pod's network-status annotation.
func (l *Lab) NetworkStatus(ctx context.Context, pod string) ([]nadv1.NetworkStatus, error) {
	out, err := l.Kubectl(ctx, "get", "pod", pod, "-o", `jsonpath={.metadata.annotations.k8s\.v1\.cni\.cncf\.io/network-status}`)
	if err != nil {
		return nil, err
	}
	var status []nadv1.NetworkStatus
	if err := json.Unmarshal([]byte(out), &status); err != nil {
		return nil, fmt.Errorf("pod %s's network-status %q: %w", pod, out, err)
	}
	return status, nil
}

// Demo shows the seed's session on the lab: what Kontrail made of vn1,
// the pod's interfaces, and a ping between pods on two nodes.
func (l *Lab) Demo(ctx context.Context, repo string) error {
	if err := l.ApplySeed(ctx, repo); err != nil {
		return err
	}
	status, err := l.NetworkStatus(ctx, OtherPod)
	if err != nil {
		return err
	}
	var peer string
	for _, s := range status {
		if s.Name == "default/vn1" && len(s.IPs) > 0 {
			peer = s.IPs[0]
		}
	}
	if peer == "" {
		return fmt.Errorf("pod %s has no address on vn1: %+v", OtherPod, status)
	}
	show := func(args ...string) error {
		fmt.Printf("\n$ kubectl %s\n", strings.Join(args, " "))
		return l.kubectl(ctx, nil, args...)
	}
	for _, args := range [][]string{
		{"get", "pods", "-o", "wide"},
		{"get", "net-attach-def,vn,subnet,ri,vmi,iip"},
		{"get", "pod", SeedPod, "-o", `jsonpath={.metadata.annotations.k8s\.v1\.cni\.cncf\.io/network-status}{"\n"}`},
		{"exec", SeedPod, "--", "ip", "a"},
		{"exec", SeedPod, "--", "ping", "-c", "3", peer},
	} {
		if err := show(args...); err != nil {
			return err
		}
	}
	// The pod network is the cluster's: a Service answers through
	// kube-proxy, and CoreDNS resolves its name.
	if err := l.kubectlIn(ctx, []byte(demoService), "apply", "-f", "-"); err != nil {
		return err
	}
	if err := l.waitPod(ctx, "hello"); err != nil {
		return err
	}
	clusterIP, err := l.Kubectl(ctx, "get", "service", "hello", "-o", "jsonpath={.spec.clusterIP}")
	if err != nil {
		return err
	}
	for _, args := range [][]string{
		{"get", "service", "hello"},
		{"exec", SeedPod, "--", "nslookup", "hello.default.svc." + ClusterDomain},
		{"exec", SeedPod, "--", "sh", "-c", fmt.Sprintf(`printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 3 %s 80`, clusterIP)},
	} {
		if err := show(args...); err != nil {
			return err
		}
	}
	// Egress: the external host (no node; nothing routes the pod network
	// to it) answers with the address it saw: the pod's node's, by the pod
	// network's fabric SNAT.
	fmt.Printf("\n# the external host %s answers with the address it saw (the pod's node's: fabric SNAT)", l.ExternalIP())
	return show("exec", SeedPod, "--", "sh", "-c", fmt.Sprintf(`printf 'GET / HTTP/1.0\r\n\r\n' | timeout 5 nc -w 3 %s 80 | tail -n 1`, l.ExternalIP()))
}

// demoService is the demo's Service: hello, a pod serving HTTP on 8080
// (busybox's httpd) behind port 80.
const demoService = `apiVersion: v1
kind: Pod
metadata:
  name: hello
  labels: {app: hello}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: hello
    image: docker.io/library/busybox:latest
    command: ["sh", "-c", "mkdir -p /www && echo hello from a Service on the pod network > /www/index.html && exec httpd -f -p 8080 -h /www"]
    readinessProbe:
      tcpSocket: {port: 8080}
      periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: hello
spec:
  selector: {app: hello}
  ports: [{port: 80, targetPort: 8080}]
`

// kubectlIn runs kubectl with stdin.
func (l *Lab) kubectlIn(ctx context.Context, stdin []byte, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(l.K8sBin, "kubectl"), append([]string{"--kubeconfig", l.Kubeconfig()}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// CIDRNAD is a NetworkAttachmentDefinition as seeds 000 and 003 write
// them (opencontrail.org/cidr), for the suites that make networks.
func CIDRNAD(namespace, name, cidr string) string {
	return fmt.Sprintf(`apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata:
  annotations:
    opencontrail.org/cidr: "%s"
    opencontrail.org/ip_fabric_forwarding: "false"
    opencontrail.org/ip_fabric_snat: "false"
  name: %s
  namespace: %s
spec:
  config: '{ "cniVersion": "0.3.0", "type": "contrail-k8s-cni" }'
`, cidr, name, namespace)
}
