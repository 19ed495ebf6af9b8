package agent

import (
	"context"
	"fmt"
	"net"
	"slices"

	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
	"github.com/kontrail/kontrail/cni/agentapi"
	"github.com/kontrail/kontrail/vrouter/dataplane"
)

// routeTargets are the route targets a routing instance imports and
// exports: its default one both ways, its own references and those its
// VirtualNetworkRouters gave it, each in the direction its attributes say.
func routeTargets(ri *corev1alpha1.RoutingInstance) (imports, exports map[string]bool) {
	imports, exports = map[string]bool{}, map[string]bool{}
	add := func(ref corev1alpha1.RouteTargetReference) {
		if ref.Name == "" {
			return
		}
		switch ref.Attributes.ImportExport {
		case corev1alpha1.ImportExportImport:
			imports[ref.Name] = true
		case corev1alpha1.ImportExportExport:
			exports[ref.Name] = true
		default:
			imports[ref.Name], exports[ref.Name] = true, true
		}
	}
	if ref := ri.Status.DefaultRouteTargetReference; ref != nil {
		add(*ref)
	}
	for _, ref := range ri.Spec.RouteTargetReferences {
		add(ref)
	}
	for _, refs := range ri.Status.VirtualNetworkRouterRouteTargetReferences {
		for _, ref := range refs {
			add(ref)
		}
	}
	return imports, exports
}

// importedNetworks maps each network (namespace/name) to the other
// networks whose routes its routing instance imports: one of its import
// route targets is one of theirs to export.
func importedNetworks(ris []corev1alpha1.RoutingInstance) map[string][]string {
	type rts struct{ imports, exports map[string]bool }
	byNetwork := map[string]rts{}
	for i := range ris {
		ri := &ris[i]
		if !ri.DeletionTimestamp.IsZero() || ri.Spec.Parent.Name == "" {
			continue
		}
		imp, exp := routeTargets(ri)
		byNetwork[ri.Spec.Parent.Namespace+"/"+ri.Spec.Parent.Name] = rts{imp, exp}
	}
	out := map[string][]string{}
	for x, xr := range byNetwork {
		for y, yr := range byNetwork {
			if x == y {
				continue
			}
			for rt := range xr.imports {
				if yr.exports[rt] {
					out[x] = append(out[x], y)
					break
				}
			}
		}
		slices.Sort(out[x])
	}
	return out
}

// routedNetworks says which networks the node's router must carry: each
// local network (but the default pod network, which the node itself
// routes) that imports another's routes, and each network it imports.
func (a *Agent) routedNetworks(ctx context.Context, local []string) (map[string][]string, error) {
	var ris corev1alpha1.RoutingInstanceList
	if err := a.client.List(ctx, &ris); err != nil {
		return nil, fmt.Errorf("failed to list RoutingInstances: %w", err)
	}
	imports := importedNetworks(ris.Items)
	routed := map[string][]string{}
	pod := a.cfg.PodNetworkName()
	for _, x := range local {
		if x == pod {
			continue
		}
		for _, y := range imports[x] {
			if y == pod {
				continue
			}
			routed[x] = append(routed[x], y)
			if _, ok := routed[y]; !ok {
				routed[y] = nil
			}
		}
	}
	// An imported network's own imports count where the router has them.
	for y := range routed {
		if len(routed[y]) > 0 {
			continue
		}
		for _, z := range imports[y] {
			if _, ok := routed[z]; ok {
				routed[y] = append(routed[y], z)
			}
		}
	}
	return routed, nil
}

// router describes the router for the routed networks among state's.
func (a *Agent) router(ctx context.Context, state dataplane.State, routed map[string][]string, ports []agentapi.Port,
	routers []corev1alpha1.VirtualRouter) *dataplane.Router {
	// A network with fabric forwarding is in the node's own routing table
	// (its bridge holds its gateways and the gateway MAC): it has no leg,
	// and no other network imports its routes on the router.
	vnis := map[string]uint32{}
	for _, n := range state.Networks {
		if !n.FabricForwarding {
			vnis[n.Name] = n.VNI
		}
	}
	r := &dataplane.Router{NS: a.routerNS}
	for _, n := range state.Networks {
		imports, ok := routed[n.Name]
		if !ok || n.FabricForwarding {
			continue
		}
		rn := dataplane.RoutedNetwork{Name: n.Name, VNI: n.VNI}
		ns, name, _ := cutNamespace(n.Name)
		vn := &corev1alpha1.VirtualNetwork{}
		if err := a.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, vn); err == nil {
			rn.Gateways = a.gateways(ctx, vn)
		}
		for _, y := range imports {
			if vni, ok := vnis[y]; ok {
				rn.Imports = append(rn.Imports, vni)
			}
		}
		for _, p := range ports {
			if p.Network == n.Name {
				rn.Neighbors = append(rn.Neighbors, neighbors(p.MAC, p.IPs)...)
			}
		}
		for _, vr := range routers {
			if vr.Name == a.cfg.NodeName {
				continue
			}
			for _, e := range vr.Status.Endpoints {
				if e.Network == n.Name {
					rn.Neighbors = append(rn.Neighbors, neighbors(e.MAC, e.IPs)...)
				}
			}
		}
		r.Networks = append(r.Networks, rn)
	}
	return r
}

func neighbors(mac string, ips []string) []dataplane.Neighbor {
	hw, err := net.ParseMAC(mac)
	if err != nil {
		return nil
	}
	var out []dataplane.Neighbor
	for _, s := range ips {
		if ip := net.ParseIP(s); ip != nil {
			out = append(out, dataplane.Neighbor{IP: ip, MAC: hw})
		} else if ip, _, err := net.ParseCIDR(s); err == nil {
			out = append(out, dataplane.Neighbor{IP: ip, MAC: hw})
		}
	}
	return out
}
