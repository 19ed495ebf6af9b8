package plugin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/plugins/pkg/ip"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"github.com/kontrail/kontrail/cni/agentapi"
)

// Add plugs every interface of the pod, or none: on any failure what was
// made is removed before the error is returned.
func Add(args *skel.CmdArgs) error {
	conf, wait, err := parseConf(args.StdinData)
	if err != nil {
		return err
	}
	pod, err := parseArgs(args.Args)
	if err != nil {
		return err
	}
	netns, err := ns.GetNS(args.Netns)
	if err != nil {
		return types.NewError(types.ErrUnknownContainer, fmt.Sprintf("contrail-k8s-cni: the pod's network namespace %q cannot be opened", args.Netns), err.Error())
	}
	defer netns.Close()

	ctx := context.Background()
	agent := agentapi.NewClient(conf.Socket)
	want, err := agent.Interfaces(ctx, agentapi.InterfacesRequest{PodNamespace: string(pod.K8S_POD_NAMESPACE),
		PodName: string(pod.K8S_POD_NAME), PodUID: string(pod.K8S_POD_UID), ContainerID: args.ContainerID,
		WaitSeconds: int(wait.Seconds())})
	if err != nil {
		return cniError(fmt.Sprintf("no interfaces for pod %s/%s", pod.K8S_POD_NAMESPACE, pod.K8S_POD_NAME), err)
	}
	if len(want.Interfaces) == 0 {
		return types.NewError(types.ErrInternal, fmt.Sprintf("contrail-k8s-cni: the agent has no interface for pod %s/%s", pod.K8S_POD_NAMESPACE, pod.K8S_POD_NAME), "")
	}
	// Host ports go to the interface the runtime plugs (eth0, on the pod
	// network); checked before anything is made.
	primary := slices.IndexFunc(want.Interfaces, func(itf agentapi.Interface) bool { return itf.Name == args.IfName })
	if primary < 0 {
		primary = 0
	}
	forwards, err := hostPorts(conf.RuntimeConfig.PortMappings, interfaceAddrs(want.Interfaces[primary]))
	if err != nil {
		return err
	}
	result := &current.Result{CNIVersion: current.ImplementedSpecVersion}
	var ports []agentapi.Port
	plugErr := netns.Do(func(hostNS ns.NetNS) error {
		for _, itf := range want.Interfaces {
			if itf.MTU == 0 {
				itf.MTU = conf.MTU
			}
			port, err := plug(hostNS, args.ContainerID, args.Netns, itf, result)
			if err != nil {
				return fmt.Errorf("interface %s: %w", itf.Name, err)
			}
			port.PodNamespace, port.PodName, port.PodUID = string(pod.K8S_POD_NAMESPACE), string(pod.K8S_POD_NAME), want.PodUID
			if itf.Name == want.Interfaces[primary].Name {
				port.HostPorts = forwards
			}
			ports = append(ports, port)
		}
		return nil
	})
	if plugErr == nil {
		if err := agent.AddPorts(ctx, ports); err != nil {
			plugErr = cniError("the agent refused the ports", err)
		}
	}
	if plugErr != nil {
		unplug(args.ContainerID, args.Netns, want.Interfaces)
		return cniError(fmt.Sprintf("failed to plug pod %s/%s", pod.K8S_POD_NAMESPACE, pod.K8S_POD_NAME), plugErr)
	}
	return types.PrintResult(result, conf.CNIVersion)
}

// plug makes one interface inside the pod (the current namespace): a veth
// pair whose host end goes to hostNS, the MAC, MTU, addresses and routes.
func plug(hostNS ns.NetNS, containerID, netnsPath string, itf agentapi.Interface, result *current.Result) (agentapi.Port, error) {
	hostName := hostIfName(containerID, itf.Name)
	host, cont, err := ip.SetupVethWithName(itf.Name, hostName, itf.MTU, itf.MAC, hostNS)
	if err != nil {
		return agentapi.Port{}, fmt.Errorf("failed to make the veth pair: %w", err)
	}
	result.Interfaces = append(result.Interfaces,
		&current.Interface{Name: host.Name, Mac: host.HardwareAddr.String()},
		&current.Interface{Name: cont.Name, Mac: cont.HardwareAddr.String(), Sandbox: netnsPath})
	contIndex := len(result.Interfaces) - 1
	link, err := netlink.LinkByName(itf.Name)
	if err != nil {
		return agentapi.Port{}, err
	}
	// DEL removes the pod's interfaces by group, in one batch.
	if err := netlink.LinkSetGroup(link, int(linkGroup)); err != nil {
		return agentapi.Port{}, fmt.Errorf("failed to set the group of %s: %w", itf.Name, err)
	}
	port := agentapi.Port{ContainerID: containerID, IfName: itf.Name, HostIfName: hostName, Netns: netnsPath,
		MAC: cont.HardwareAddr.String(), VMI: itf.VMI, Network: itf.Network}
	for _, a := range itf.IPs {
		addr, err := netlink.ParseAddr(a.Address)
		if err != nil {
			return port, fmt.Errorf("address %q: %w", a.Address, err)
		}
		if err := netlink.AddrAdd(link, addr); err != nil {
			return port, fmt.Errorf("failed to add address %s: %w", a.Address, err)
		}
		ipc := &current.IPConfig{Interface: current.Int(contIndex), Address: *addr.IPNet}
		if a.Gateway != "" {
			ipc.Gateway = net.ParseIP(a.Gateway)
		}
		result.IPs = append(result.IPs, ipc)
		port.IPs = append(port.IPs, addr.IP.String())
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return port, fmt.Errorf("failed to bring %s up: %w", itf.Name, err)
	}
	if itf.DefaultRoute {
		for _, a := range itf.IPs {
			gw := net.ParseIP(a.Gateway)
			if gw == nil {
				continue
			}
			dst := &net.IPNet{IP: net.IPv4zero, Mask: net.CIDRMask(0, 32)}
			if gw.To4() == nil {
				dst = &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}
			}
			// RouteReplace: whichever interface had the default route
			// before (eth0) no longer has it.
			if err := netlink.RouteReplace(&netlink.Route{LinkIndex: link.Attrs().Index, Dst: dst, Gw: gw}); err != nil {
				return port, fmt.Errorf("failed to route the default through %s via %s: %w", itf.Name, gw, err)
			}
			result.Routes = append(result.Routes, &types.Route{Dst: *dst, GW: gw})
		}
	}
	return port, nil
}

// interfaceAddrs are an interface's addresses, without prefix.
func interfaceAddrs(itf agentapi.Interface) []netip.Addr {
	var out []netip.Addr
	for _, a := range itf.IPs {
		if p, err := netip.ParsePrefix(a.Address); err == nil {
			out = append(out, p.Addr())
		} else if ip, err := netip.ParseAddr(a.Address); err == nil {
			out = append(out, ip)
		}
	}
	return out
}

// unplug removes the interfaces of a container: their host ends (which
// takes the pod ends with them) and, if the netns is still there, any
// pod end left.
func unplug(containerID, netnsPath string, itfs []agentapi.Interface) {
	for _, itf := range itfs {
		_ = ip.DelLinkByName(hostIfName(containerID, itf.Name))
	}
	if netnsPath == "" {
		return
	}
	_ = ns.WithNetNSPath(netnsPath, func(ns.NetNS) error {
		for _, itf := range itfs {
			_ = ip.DelLinkByName(itf.Name)
		}
		return nil
	})
}

// Del removes everything Add made. It succeeds when the netns, the pod,
// the interfaces or the agent are gone: the runtime retries a failing DEL
// forever, and a pod that is gone has nothing left to remove.
func Del(args *skel.CmdArgs) error {
	conf, _, err := parseConf(args.StdinData)
	if err != nil {
		return err
	}
	agent := agentapi.NewClient(conf.Socket)
	ctx := context.Background()
	var names []string
	if ports, err := agent.Ports(ctx); err == nil {
		for _, p := range ports {
			if p.ContainerID == args.ContainerID {
				names = append(names, p.IfName)
			}
		}
	}
	// Without the agent, the pod's own interfaces say which ports it had.
	if args.Netns != "" {
		_ = ns.WithNetNSPath(args.Netns, func(ns.NetNS) error {
			// One batch for all of them, their host ends with them: the
			// kernel waits for the RCU grace period once, not per interface.
			_ = deleteLinkGroup(linkGroup)
			links, _ := netlink.LinkList()
			for _, l := range links {
				if l.Type() == "veth" && !slices.Contains(names, l.Attrs().Name) {
					names = append(names, l.Attrs().Name)
				}
			}
			return nil
		})
	}
	itfs := make([]agentapi.Interface, 0, len(names))
	for _, n := range names {
		itfs = append(itfs, agentapi.Interface{Name: n})
	}
	unplug(args.ContainerID, args.Netns, itfs)
	// The agent forgets the ports; when it is down, its own reconcile
	// removes ports whose links are gone once it is back.
	if err := agent.DeletePorts(ctx, args.ContainerID); err != nil {
		var unreachable *agentapi.UnreachableError
		if !errors.As(err, &unreachable) {
			return cniError("the agent failed to forget the ports", err)
		}
	}
	return nil
}

// linkGroup is the link group of the pod interfaces the plugin makes
// ("KN"): DEL deletes them all with one request.
const linkGroup uint32 = 0x4b4e

// deleteLinkGroup deletes every link of the current network namespace in
// group (and their veth peers) in one RTM_DELLINK: a single batch in the
// kernel, about a third of the time of one request per veth pair.
func deleteLinkGroup(group uint32) error {
	req := nl.NewNetlinkRequest(unix.RTM_DELLINK, unix.NLM_F_ACK)
	req.AddData(nl.NewIfInfomsg(unix.AF_UNSPEC))
	req.AddData(nl.NewRtAttr(unix.IFLA_GROUP, nl.Uint32Attr(group)))
	if _, err := req.Execute(unix.NETLINK_ROUTE, 0); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("failed to delete the links of group %d: %w", group, err)
	}
	return nil
}
