package kubemanager

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strings"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	nadutils "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/utils"
)

// Attachment is one validated element of a pod's k8s.v1.cni.cncf.io/networks.
type Attachment struct {
	Namespace, Name string
	Interface       string
	IPs             []netip.Addr
	MAC             string
	DefaultRoute    []netip.Addr
	// Unsupported, when set, says why Kontrail does not plug this attachment.
	Unsupported string
}

var linkName = regexp.MustCompile(`^[^/:\s]{1,15}$`)

// notImplemented are the keys of the de-facto standard v1.3 that Kontrail
// does not implement yet: an attachment that uses one is not plugged, and
// the pod is told so, rather than the key being silently ignored.
var notImplemented = map[string]string{
	"portMappings":         "port mappings",
	"bandwidth":            "bandwidth limits",
	"infiniband-guid":      "InfiniBand GUIDs",
	"ipam-claim-reference": "IPAM claims",
}

// knownKeys are the keys of a selection element the standard defines.
var knownKeys = map[string]bool{"name": true, "namespace": true, "ips": true, "mac": true, "interface": true,
	"default-route": true, "portMappings": true, "bandwidth": true, "cni-args": true, "infiniband-guid": true,
	"ipam-claim-reference": true}

// ParseSelections reads a pod's networks annotation, in either form (the
// comma list "a, ns/b, c@eth5" or the JSON list), with the network plumbing
// group's parser, then validates every key field by field: the parser only
// unmarshals. Errors that fail the whole pod are returned as err; an
// element Kontrail cannot plug carries its reason in Unsupported.
func ParseSelections(annotation, podNamespace string) ([]Attachment, error) {
	elems, err := nadutils.ParseNetworkAnnotation(annotation, podNamespace)
	if err != nil {
		return nil, fmt.Errorf("annotation %s: %v", nadv1.NetworkAttachmentAnnot, err)
	}
	var raw []map[string]json.RawMessage
	if strings.TrimSpace(annotation)[0] == '[' {
		if err := json.Unmarshal([]byte(annotation), &raw); err != nil {
			return nil, fmt.Errorf("annotation %s: %v", nadv1.NetworkAttachmentAnnot, err)
		}
	}

	atts := make([]Attachment, 0, len(elems))
	interfaces := map[string]int{}
	defaultRoutes := 0
	for i, e := range elems {
		where := fmt.Sprintf("annotation %s: element %d (%q)", nadv1.NetworkAttachmentAnnot, i, e.Name)
		a := Attachment{Namespace: e.Namespace, Name: e.Name, Interface: e.InterfaceRequest, MAC: e.MacRequest}
		if e.Name == "" {
			return nil, fmt.Errorf("%s: \"name\" is required", where)
		}
		if raw != nil {
			for key, value := range raw[i] {
				if !knownKeys[key] {
					return nil, fmt.Errorf("%s: unknown key %q", where, key)
				}
				if what, ok := notImplemented[key]; ok && !bytes.Equal(bytes.TrimSpace(value), []byte("null")) {
					a.Unsupported = fmt.Sprintf("%s: key %q (%s) is not implemented by Kontrail yet; the attachment is not plugged", where, key, what)
				}
			}
		}
		if a.Interface != "" {
			if !linkName.MatchString(a.Interface) || a.Interface == "." || a.Interface == ".." {
				return nil, fmt.Errorf("%s: interface %q is not a Linux interface name (at most 15 characters, no '/', ':' or white space)", where, a.Interface)
			}
			if j, dup := interfaces[a.Interface]; dup {
				return nil, fmt.Errorf("%s: interface %q is already used by element %d", where, a.Interface, j)
			}
			interfaces[a.Interface] = i
		}
		for _, text := range e.IPRequest {
			addr, err := parseIP(text)
			if err != nil {
				return nil, fmt.Errorf("%s: ips: %q is not an IP address", where, text)
			}
			a.IPs = append(a.IPs, addr)
		}
		if a.MAC != "" {
			hw, err := net.ParseMAC(a.MAC)
			switch {
			case err != nil || len(hw) != 6:
				return nil, fmt.Errorf("%s: mac %q is not a MAC address such as 02:11:8e:c0:2f:e0", where, a.MAC)
			case hw[0]&1 == 1:
				return nil, fmt.Errorf("%s: mac %q is a multicast MAC; an interface needs a unicast one", where, a.MAC)
			}
			a.MAC = hw.String()
		}
		if len(e.GatewayRequest) > 0 {
			defaultRoutes++
			if defaultRoutes > 1 {
				return nil, fmt.Errorf("%s: default-route is set on more than one element; a pod has one default route", where)
			}
			for _, gw := range e.GatewayRequest {
				addr, ok := netip.AddrFromSlice(gw)
				if !ok {
					return nil, fmt.Errorf("%s: default-route %v is not an IP address", where, gw)
				}
				a.DefaultRoute = append(a.DefaultRoute, addr.Unmap())
			}
		}
		atts = append(atts, a)
	}
	return atts, nil
}

// parseIP reads an address, alone or in CIDR form (Multus users write both).
func parseIP(text string) (netip.Addr, error) {
	if p, err := netip.ParsePrefix(text); err == nil {
		return p.Addr(), nil
	}
	return netip.ParseAddr(text)
}
