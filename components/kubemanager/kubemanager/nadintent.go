package kubemanager

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"

	"k8s.io/apimachinery/pkg/types"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
)

// Annotations of a NetworkAttachmentDefinition.
const (
	// AnnotationNetworks is CN2's description of the network to make.
	AnnotationNetworks = "juniper.net/networks"
	// AnnotationNetworksStatus is where kubemanager says what it made of it.
	AnnotationNetworksStatus = corev1alpha1.AnnotationNetworksStatus
	// The older Contrail annotations: the network's CIDR and fabric settings...
	AnnotationOpenContrailCIDR             = "opencontrail.org/cidr"
	AnnotationOpenContrailFabricForwarding = "opencontrail.org/ip_fabric_forwarding"
	AnnotationOpenContrailFabricSNAT       = "opencontrail.org/ip_fabric_snat"
	// ...or an existing network to map the NAD to: {"domain","project","name"}.
	AnnotationOpenContrailNetwork = "opencontrail.org/network"

	// FinalizerNAD keeps a NAD until its network is gone.
	FinalizerNAD = "virtual-network.finalizers.kube-manager.juniper.net"
	// PluginType is the CNI type of the NADs Kontrail plugs.
	PluginType = "contrail-k8s-cni"
)

// NetworkIntent is the network a NAD asks for.
type NetworkIntent struct {
	V4Subnet, V6Subnet string
	RouteTargets       []corev1alpha1.RouteTargetString
	ImportRouteTargets []corev1alpha1.RouteTargetString
	ExportRouteTargets []corev1alpha1.RouteTargetString
	FabricSNAT         bool
	FabricForwarding   bool
	// Existing, when set, maps the NAD to this VirtualNetwork instead of
	// making one.
	Existing *types.NamespacedName
}

// juniperNetworks is the JSON of the juniper.net/networks annotation.
type juniperNetworks struct {
	IPAMV4Subnet          string   `json:"ipamV4Subnet"`
	IPAMV6Subnet          string   `json:"ipamV6Subnet"`
	RouteTargetList       []string `json:"routeTargetList"`
	ImportRouteTargetList []string `json:"importRouteTargetList"`
	ExportRouteTargetList []string `json:"exportRouteTargetList"`
	FabricSNAT            *bool    `json:"fabricSNAT"`
	FabricForwarding      *bool    `json:"fabricForwarding"`
}

// openContrailNetwork is the JSON of the opencontrail.org/network annotation.
type openContrailNetwork struct {
	Domain  string `json:"domain"`
	Project string `json:"project"`
	Name    string `json:"name"`
}

// decodeStrict decodes JSON, refusing keys the type does not know, so a
// misspelt key is an error rather than a silently default network.
func decodeStrict(data string, v any) error {
	dec := json.NewDecoder(bytes.NewReader([]byte(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		// Say it is the JSON that is broken, not just how the decoder stopped.
		var syntax *json.SyntaxError
		switch {
		case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
			return fmt.Errorf("is not valid JSON: it ends early (unexpected EOF)")
		case errors.As(err, &syntax):
			return fmt.Errorf("is not valid JSON at offset %d: %v", syntax.Offset, err)
		}
		return err
	}
	if dec.More() {
		return fmt.Errorf("unexpected data after the JSON object")
	}
	return nil
}

// ParseNetworkIntent reads what a NAD asks for from its annotations, in the
// order CN2 and older Contrail releases read them. A NAD with none of them
// maps to the VirtualNetwork of its own name and namespace.
func ParseNetworkIntent(annotations map[string]string, nadNamespace, nadName string) (*NetworkIntent, error) {
	if text, ok := annotations[AnnotationNetworks]; ok {
		var n juniperNetworks
		if err := decodeStrict(text, &n); err != nil {
			return nil, fmt.Errorf("annotation %s: %v", AnnotationNetworks, err)
		}
		in := &NetworkIntent{V4Subnet: n.IPAMV4Subnet, V6Subnet: n.IPAMV6Subnet}
		if n.FabricSNAT != nil {
			in.FabricSNAT = *n.FabricSNAT
		}
		if n.FabricForwarding != nil {
			in.FabricForwarding = *n.FabricForwarding
		}
		var err error
		for _, l := range []struct {
			key  string
			in   []string
			into *[]corev1alpha1.RouteTargetString
		}{
			{"routeTargetList", n.RouteTargetList, &in.RouteTargets},
			{"importRouteTargetList", n.ImportRouteTargetList, &in.ImportRouteTargets},
			{"exportRouteTargetList", n.ExportRouteTargetList, &in.ExportRouteTargets},
		} {
			for _, rt := range l.in {
				if v, perr := corev1alpha1.ParseRouteTarget(rt); perr != nil {
					err = fmt.Errorf("annotation %s: %s %q: %v", AnnotationNetworks, l.key, rt, perr)
				} else if v.IsSystem() {
					err = fmt.Errorf("annotation %s: %s %q: %s", AnnotationNetworks, l.key, rt, corev1alpha1.SystemRouteTargetRange)
				}
				*l.into = append(*l.into, corev1alpha1.RouteTargetString(rt))
			}
		}
		if err != nil {
			return nil, err
		}
		if err := checkSubnets(in, AnnotationNetworks+": ipamV4Subnet", AnnotationNetworks+": ipamV6Subnet"); err != nil {
			return nil, err
		}
		return in, nil
	}

	if text, ok := annotations[AnnotationOpenContrailNetwork]; ok {
		var n openContrailNetwork
		if err := decodeStrict(text, &n); err != nil {
			return nil, fmt.Errorf("annotation %s: %v", AnnotationOpenContrailNetwork, err)
		}
		if n.Name == "" {
			return nil, fmt.Errorf(`annotation %s: "name" is required`, AnnotationOpenContrailNetwork)
		}
		project := n.Project
		if project == "" {
			project = nadNamespace
		}
		return &NetworkIntent{Existing: &types.NamespacedName{Namespace: project, Name: n.Name}}, nil
	}

	if cidr, ok := annotations[AnnotationOpenContrailCIDR]; ok {
		in := &NetworkIntent{}
		if p, err := netip.ParsePrefix(cidr); err == nil && p.Addr().Is6() {
			in.V6Subnet = cidr
		} else {
			in.V4Subnet = cidr
		}
		for key, into := range map[string]*bool{
			AnnotationOpenContrailFabricForwarding: &in.FabricForwarding,
			AnnotationOpenContrailFabricSNAT:       &in.FabricSNAT,
		} {
			if v, ok := annotations[key]; ok {
				b, err := strconv.ParseBool(v)
				if err != nil {
					return nil, fmt.Errorf("annotation %s: %q is not true or false", key, v)
				}
				*into = b
			}
		}
		if err := checkSubnets(in, AnnotationOpenContrailCIDR, AnnotationOpenContrailCIDR); err != nil {
			return nil, err
		}
		return in, nil
	}
	return &NetworkIntent{Existing: &types.NamespacedName{Namespace: nadNamespace, Name: nadName}}, nil
}

// checkSubnets checks the CIDRs of an intent: a network address of the
// right family, with room for a gateway and an interface.
func checkSubnets(in *NetworkIntent, v4Key, v6Key string) error {
	if in.V4Subnet == "" && in.V6Subnet == "" {
		return fmt.Errorf("%s: a network needs a subnet", v4Key)
	}
	for _, c := range []struct {
		key, cidr string
		v4        bool
	}{{v4Key, in.V4Subnet, true}, {v6Key, in.V6Subnet, false}} {
		if c.cidr == "" {
			continue
		}
		p, err := netip.ParsePrefix(c.cidr)
		switch {
		case err != nil:
			return fmt.Errorf("%s %q is not a CIDR such as 172.16.10.0/24", c.key, c.cidr)
		case p.Addr().Is4() != c.v4:
			return fmt.Errorf("%s %q is of the wrong address family", c.key, c.cidr)
		case p != p.Masked():
			return fmt.Errorf("%s %q has host bits set: the network is %s", c.key, c.cidr, p.Masked())
		case c.v4 && p.Bits() > 30:
			return fmt.Errorf("%s %q leaves no address for a pod: use /30 or shorter", c.key, c.cidr)
		}
	}
	return nil
}

// pluginType reads the CNI type of a NAD's config: a single config's "type",
// or the first plugin's of a conflist.
func pluginType(config string) (string, error) {
	if config == "" {
		return "", fmt.Errorf("spec.config is empty")
	}
	var c struct {
		Type    string `json:"type"`
		Plugins []struct {
			Type string `json:"type"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal([]byte(config), &c); err != nil {
		return "", fmt.Errorf("spec.config is not JSON: %v", err)
	}
	if c.Type == "" && len(c.Plugins) > 0 {
		return c.Plugins[0].Type, nil
	}
	return c.Type, nil
}
