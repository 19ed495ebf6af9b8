package plugin

import (
	"context"
	"fmt"
	"net"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"

	"github.com/kontrail/kontrail/cni/agentapi"
)

// Check verifies that the pod still has every interface of the previous
// result, with its MAC and addresses, and the host ends too.
func Check(args *skel.CmdArgs) error {
	conf, _, err := parseConf(args.StdinData)
	if err != nil {
		return err
	}
	if err := version.ParsePrevResult(&conf.NetConf); err != nil {
		return types.NewError(types.ErrDecodingFailure, "contrail-k8s-cni: the previous result does not parse", err.Error())
	}
	if conf.PrevResult == nil {
		return types.NewError(types.ErrInvalidNetworkConfig, "contrail-k8s-cni: CHECK needs the previous result (prevResult)", "")
	}
	prev, err := current.NewResultFromResult(conf.PrevResult)
	if err != nil {
		return types.NewError(types.ErrDecodingFailure, "contrail-k8s-cni: the previous result does not convert", err.Error())
	}
	// The pod's side first: what the pod lost is what a person looks for.
	if err := ns.WithNetNSPath(args.Netns, func(ns.NetNS) error {
		for i, itf := range prev.Interfaces {
			if itf.Sandbox == "" {
				continue
			}
			link, err := netlink.LinkByName(itf.Name)
			if err != nil {
				return types.NewError(types.ErrInternal, fmt.Sprintf("contrail-k8s-cni: the pod's interface %s is gone", itf.Name), err.Error())
			}
			if mac := link.Attrs().HardwareAddr.String(); mac != itf.Mac {
				return types.NewError(types.ErrInternal, fmt.Sprintf("contrail-k8s-cni: the pod's interface %s has MAC %s, not %s", itf.Name, mac, itf.Mac), "")
			}
			addrs, err := netlink.AddrList(link, netlink.FAMILY_ALL)
			if err != nil {
				return err
			}
			for _, ipc := range prev.IPs {
				if ipc.Interface == nil || *ipc.Interface != i {
					continue
				}
				if !hasAddr(addrs, ipc.Address) {
					return types.NewError(types.ErrInternal, fmt.Sprintf("contrail-k8s-cni: the pod's interface %s lost address %s", itf.Name, ipc.Address.String()), "")
				}
			}
		}
		return nil
	}); err != nil {
		return err
	}
	// Host ends come before their pod end in the result.
	for i, itf := range prev.Interfaces {
		if itf.Sandbox != "" || i+1 >= len(prev.Interfaces) {
			continue
		}
		if _, err := netlink.LinkByName(itf.Name); err != nil {
			return types.NewError(types.ErrInternal, fmt.Sprintf("contrail-k8s-cni: the host end %s of the pod's interface %s is gone",
				itf.Name, prev.Interfaces[i+1].Name), err.Error())
		}
	}
	return nil
}

func hasAddr(addrs []netlink.Addr, want net.IPNet) bool {
	for _, a := range addrs {
		if a.IPNet.String() == want.String() {
			return true
		}
	}
	return false
}

// Status says whether the agent can plug pods (CNI 1.1): the runtime
// holds pods back until it can.
func Status(args *skel.CmdArgs) error {
	conf, _, err := parseConf(args.StdinData)
	if err != nil {
		return err
	}
	ready, err := agentapi.NewClient(conf.Socket).Ready(context.Background())
	if err != nil {
		return types.NewError(types.ErrPluginNotAvailable, "contrail-k8s-cni: the vrouter agent is not available", err.Error())
	}
	if !ready.Ready {
		return types.NewError(types.ErrPluginNotAvailable, "contrail-k8s-cni: the vrouter agent is not ready: "+ready.Reason, "")
	}
	return nil
}

// GC removes the ports of containers that are not among the runtime's
// valid attachments (CNI 1.1): what a crashed runtime left behind. One
// attachment (containerID, CNI_IFNAME) covers all of a pod's interfaces.
func GC(args *skel.CmdArgs) error {
	conf, _, err := parseConf(args.StdinData)
	if err != nil {
		return err
	}
	valid := map[string]bool{}
	for _, a := range conf.ValidAttachments {
		valid[a.ContainerID] = true
	}
	agent := agentapi.NewClient(conf.Socket)
	ctx := context.Background()
	ports, err := agent.Ports(ctx)
	if err != nil {
		return cniError("cannot list the agent's ports", err)
	}
	stale := map[string][]agentapi.Port{}
	for _, p := range ports {
		if !valid[p.ContainerID] {
			stale[p.ContainerID] = append(stale[p.ContainerID], p)
		}
	}
	for containerID, ps := range stale {
		itfs := make([]agentapi.Interface, 0, len(ps))
		for _, p := range ps {
			itfs = append(itfs, agentapi.Interface{Name: p.IfName})
		}
		unplug(containerID, ps[0].Netns, itfs)
		if err := agent.DeletePorts(ctx, containerID); err != nil {
			return cniError("the agent failed to forget the ports of "+containerID, err)
		}
	}
	return nil
}
