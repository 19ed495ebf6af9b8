package dataplane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kontrail/kontrail/tests/internal/nodes"
)

// nad makes a NetworkAttachmentDefinition of Kontrail with a subnet.
func nad(namespace, name, cidr string) {
	GinkgoHelper()
	n := &nadv1.NetworkAttachmentDefinition{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name,
		Annotations: map[string]string{"juniper.net/networks": fmt.Sprintf(`{"ipamV4Subnet": %q}`, cidr)}},
		Spec: nadv1.NetworkAttachmentDefinitionSpec{Config: fmt.Sprintf(`{"cniVersion": "0.3.1", "name": %q, "type": "contrail-k8s-cni"}`, name)}}
	Expect(client.IgnoreAlreadyExists(k8sClient.Create(ctx, n))).To(Succeed())
}

// Pod is a pod as the runtime sees it: the object, its sandbox's netns and
// container ID, and the node it runs on.
type Pod struct {
	Obj         *corev1.Pod
	NS          ns.NetNS
	ContainerID string
	Node        *nodes.Node
	Result      *current.Result
}

// newPod makes a pod bound to node with a networks annotation, and its
// sandbox's network namespace, removed after the spec.
func newPod(namespace, name string, node *nodes.Node, networks string) *Pod {
	GinkgoHelper()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: corev1.PodSpec{NodeName: node.Name, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	if networks != "" {
		p.Annotations = map[string]string{nadv1.NetworkAttachmentAnnot: networks}
	}
	Expect(k8sClient.Create(ctx, p)).To(Succeed())
	netns, err := testutils.NewNS()
	Expect(err).NotTo(HaveOccurred())
	pod := &Pod{Obj: p, NS: netns, ContainerID: rand.String(32), Node: node}
	DeferCleanup(func() {
		_ = netns.Close()
		_ = testutils.UnmountNS(netns)
		Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, p, client.GracePeriodSeconds(0)))).To(Succeed())
	})
	return pod
}

func (p *Pod) runtimeConf() *libcni.RuntimeConf {
	return &libcni.RuntimeConf{ContainerID: p.ContainerID, NetNS: p.NS.Path(), IfName: "eth0",
		Args: [][2]string{{"IgnoreUnknown", "1"}, {"K8S_POD_NAMESPACE", p.Obj.Namespace}, {"K8S_POD_NAME", p.Obj.Name},
			{"K8S_POD_UID", string(p.Obj.UID)}, {"K8S_POD_INFRA_CONTAINER_ID", p.ContainerID}}}
}

// cni calls the node's plugin through libcni with the conflist its agent
// installed, from inside the node, as the node's container runtime does.
func cni(node *nodes.Node, f func(context.Context, *libcni.CNIConfig, *libcni.NetworkConfigList) error) error {
	list, err := libcni.ConfListFromFile(filepath.Join(node.ConfDir, "10-kontrail.conflist"))
	if err != nil {
		return err
	}
	cninet := libcni.NewCNIConfigWithCacheDir([]string{node.BinDir}, filepath.Join(node.Dir, "cni-cache"), nil)
	return node.NS.Do(func(ns.NetNS) error { return f(ctx, cninet, list) })
}

// Add plugs the pod.
func (p *Pod) Add() error {
	return cni(p.Node, func(ctx context.Context, c *libcni.CNIConfig, l *libcni.NetworkConfigList) error {
		res, err := c.AddNetworkList(ctx, l, p.runtimeConf())
		if err != nil {
			return err
		}
		p.Result, err = current.NewResultFromResult(res)
		return err
	})
}

// Del unplugs the pod.
func (p *Pod) Del() error {
	return cni(p.Node, func(ctx context.Context, c *libcni.CNIConfig, l *libcni.NetworkConfigList) error {
		return c.DelNetworkList(ctx, l, p.runtimeConf())
	})
}

// Check checks the pod.
func (p *Pod) Check() error {
	return cni(p.Node, func(ctx context.Context, c *libcni.CNIConfig, l *libcni.NetworkConfigList) error {
		return c.CheckNetworkList(ctx, l, p.runtimeConf())
	})
}

// mustAdd plugs the pod and unplugs it after the spec.
func (p *Pod) mustAdd() {
	GinkgoHelper()
	Expect(p.Add()).To(Succeed())
	DeferCleanup(func() { Expect(p.Del()).To(Succeed()) })
}

// itf is what a pod has on an interface.
type itf struct {
	MAC string
	IPs []string
}

// interfaces lists the pod's interfaces (but lo) with their MAC and IPv4 addresses.
func (p *Pod) interfaces() map[string]itf {
	GinkgoHelper()
	out := map[string]itf{}
	Expect(p.NS.Do(func(ns.NetNS) error {
		links, err := netlink.LinkList()
		if err != nil {
			return err
		}
		for _, l := range links {
			if l.Attrs().Name == "lo" {
				continue
			}
			addrs, err := netlink.AddrList(l, netlink.FAMILY_V4)
			if err != nil {
				return err
			}
			i := itf{MAC: l.Attrs().HardwareAddr.String()}
			for _, a := range addrs {
				i.IPs = append(i.IPs, a.IPNet.String())
			}
			out[l.Attrs().Name] = i
		}
		return nil
	})).To(Succeed())
	return out
}

// ip is the pod's address on an interface, without prefix.
func (p *Pod) ip(ifName string) string {
	GinkgoHelper()
	i, ok := p.interfaces()[ifName]
	Expect(ok).To(BeTrue(), "pod %s has no %s", p.Obj.Name, ifName)
	Expect(i.IPs).NotTo(BeEmpty())
	return strings.Split(i.IPs[0], "/")[0]
}

// ping pings addr from inside netns, once, with a short deadline.
func ping(netns ns.NetNS, addr string) error {
	out, err := nodes.Exec(netns, "ping", "-c", "1", "-W", "2", addr)
	if err != nil {
		return fmt.Errorf("ping %s: %v: %s", addr, err, out)
	}
	return nil
}

// networkStatus reads the pod's network-status annotation.
func networkStatus(p *Pod) []nadv1.NetworkStatus {
	GinkgoHelper()
	got := &corev1.Pod{}
	Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(p.Obj), got)).To(Succeed())
	var st []nadv1.NetworkStatus
	if raw := got.Annotations[nadv1.NetworkStatusAnnot]; raw != "" {
		Expect(json.Unmarshal([]byte(raw), &st)).To(Succeed())
	}
	return st
}

// snapshot lists what a node's dataplane holds: links, FDB entries,
// neighbours and routes, one line each, sorted.
func snapshot(node *nodes.Node) []string {
	GinkgoHelper()
	var out []string
	for _, args := range [][]string{{"-o", "link", "show"}, {"neigh", "show"}, {"route", "show", "table", "all"}} {
		s, err := nodes.Exec(node.NS, "ip", args...)
		Expect(err).NotTo(HaveOccurred(), s)
		out = append(out, stripCounters(s)...)
	}
	s, err := nodes.Exec(node.NS, "bridge", "fdb", "show")
	Expect(err).NotTo(HaveOccurred(), s)
	out = append(out, stripCounters(s)...)
	sort.Strings(out)
	return out
}

// stripCounters drops what changes without a change of configuration.
func stripCounters(s string) []string {
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line == "" || strings.Contains(line, " STALE") || strings.Contains(line, " REACHABLE") ||
			strings.Contains(line, " DELAY") || strings.Contains(line, " PROBE") || strings.Contains(line, "FAILED") {
			continue // neighbour cache churn
		}
		out = append(out, line)
	}
	return out
}

// cniErr is the CNI error of a failed call.
func cniErr(err error) *types.Error {
	GinkgoHelper()
	var e *types.Error
	Expect(errors.As(err, &e)).To(BeTrue(), "not a CNI error result: %T %v", err, err)
	return e
}

// namespace makes a namespace.
func namespace(name string) {
	GinkgoHelper()
	Expect(client.IgnoreAlreadyExists(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}))).To(Succeed())
}
