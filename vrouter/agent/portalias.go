package agent

import (
	"context"
	"fmt"
	"strings"

	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
	"github.com/kontrail/kontrail/cni/agentapi"
	"github.com/kontrail/kontrail/vrouter/dataplane"
)

// A port's host end carries in its alias (IFLA_IFALIAS, at most 255
// bytes) who it belongs to: the pod's UID, the container and the
// interface in the pod. The rest of the port (network, MAC, addresses) is
// in the apiserver, by the pod's UID. So a port store lost or corrupt is
// rebuilt from the kernel, and never unplugs a running pod.
const portAliasPrefix = "kontrail-port:v1"

// portAlias is the alias of p's host end.
func portAlias(p agentapi.Port) string {
	return strings.Join([]string{portAliasPrefix, p.PodUID, p.ContainerID, p.IfName}, " ")
}

// parsePortAlias reads back a port's pod UID, container and interface.
func parsePortAlias(alias string) (podUID, containerID, ifName string, ok bool) {
	f := strings.Fields(alias)
	if len(f) != 4 || f[0] != portAliasPrefix {
		return "", "", "", false
	}
	return f[1], f[2], f[3], true
}

// labelPorts writes the alias of each port's host end.
func labelPorts(ports []agentapi.Port) error {
	for _, p := range ports {
		link, err := netlink.LinkByName(p.HostIfName)
		if err != nil {
			return fmt.Errorf("port %s: %w", p.HostIfName, err)
		}
		if link.Attrs().Alias == portAlias(p) {
			continue
		}
		if err := netlink.LinkSetAlias(link, portAlias(p)); err != nil {
			return fmt.Errorf("port %s: set its alias: %w", p.HostIfName, err)
		}
	}
	return nil
}

// portsFromKernel rebuilds the ports of the node's host ends that the
// store does not know, from their aliases and the pod's interfaces and
// addresses (reader: the agent's cache, synced). A host end whose pod's
// objects are gone is left out: the reconcile then removes it.
func portsFromKernel(ctx context.Context, reader client.Reader, known func(containerID, ifName string) bool) ([]agentapi.Port, error) {
	links, err := dataplane.LinkList()
	if err != nil {
		return nil, err
	}
	var out []agentapi.Port
	for _, l := range links {
		name := l.Attrs().Name
		if !strings.HasPrefix(name, dataplane.PortPrefix) || l.Type() != "veth" {
			continue
		}
		podUID, containerID, ifName, ok := parsePortAlias(l.Attrs().Alias)
		if !ok || known(containerID, ifName) {
			continue
		}
		var vmis corev1alpha1.VirtualMachineInterfaceList
		if err := reader.List(ctx, &vmis, client.MatchingFields{indexPodUID: podUID}); err != nil {
			return nil, err
		}
		var iips corev1alpha1.InstanceIPList
		if err := reader.List(ctx, &iips, client.MatchingFields{indexPodUID: podUID}); err != nil {
			return nil, err
		}
		// The pod's host ports are on its eth0 (the runtime's portMappings
		// are its containers' hostPorts).
		var hostPorts []agentapi.HostPort
		if ifName == "eth0" && len(vmis.Items) > 0 {
			pod := &corev1.Pod{}
			err := reader.Get(ctx, client.ObjectKey{Namespace: vmis.Items[0].Namespace, Name: vmis.Items[0].Spec.PodName}, pod)
			if err == nil && string(pod.UID) == podUID {
				hostPorts = specHostPorts(pod)
			}
		}
		for _, vmi := range vmis.Items {
			if vmi.Spec.InterfaceName != ifName {
				continue
			}
			ref := vmi.Spec.VirtualNetworkReference
			p := agentapi.Port{ContainerID: containerID, IfName: ifName, HostIfName: name, PodUID: podUID,
				VMI: vmi.Namespace + "/" + vmi.Name, Network: ref.Namespace + "/" + ref.Name, PodNamespace: vmi.Namespace, PodName: vmi.Spec.PodName}
			if macs := vmi.Spec.VirtualMachineInterfaceMacAddresses.MACAddress; len(macs) > 0 {
				p.MAC = string(macs[0])
			}
			for _, iip := range iips.Items {
				if len(iip.Spec.VirtualMachineInterfaceReferences) > 0 && iip.Spec.VirtualMachineInterfaceReferences[0].Name == vmi.Name {
					p.IPs = append(p.IPs, iip.Spec.InstanceIPAddress)
				}
			}
			p.HostPorts = hostPorts
			out = append(out, p)
		}
	}
	return out, nil
}
