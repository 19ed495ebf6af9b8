package kubemanager

import (
	"strings"
	"testing"
)

func TestParseNetworkIntent(t *testing.T) {
	// The seed's vn1.
	in, err := ParseNetworkIntent(map[string]string{AnnotationNetworks: `{
        "ipamV4Subnet": "172.16.10.0/24",

        "routeTargetList": ["target:23:4561"],
        "importRouteTargetList": ["target:10.2.2.2:561"],
        "exportRouteTargetList": ["target:10.1.1.1:561"]

      }`}, "default", "vn1")
	if err != nil {
		t.Fatal(err)
	}
	if in.V4Subnet != "172.16.10.0/24" || len(in.RouteTargets) != 1 || in.ImportRouteTargets[0] != "target:10.2.2.2:561" || in.Existing != nil {
		t.Fatalf("seed vn1: %+v", in)
	}

	in, err = ParseNetworkIntent(map[string]string{AnnotationOpenContrailCIDR: "10.10.10.0/24",
		AnnotationOpenContrailFabricForwarding: "false", AnnotationOpenContrailFabricSNAT: "true"}, "default", "vn-left-1")
	if err != nil || in.V4Subnet != "10.10.10.0/24" || !in.FabricSNAT || in.FabricForwarding {
		t.Fatalf("opencontrail.org/cidr: %+v, %v", in, err)
	}

	in, err = ParseNetworkIntent(map[string]string{AnnotationOpenContrailNetwork: `{"domain":"default-domain", "project": "k8s-extns", "name":"k8s-extns-pod-network"}`}, "default", "extns-network")
	if err != nil || in.Existing == nil || in.Existing.String() != "k8s-extns/k8s-extns-pod-network" {
		t.Fatalf("opencontrail.org/network: %+v, %v", in, err)
	}

	in, err = ParseNetworkIntent(nil, "default", "plain")
	if err != nil || in.Existing.String() != "default/plain" {
		t.Fatalf("no annotation: %+v, %v", in, err)
	}

	for annotations, want := range map[[2]string]string{
		{AnnotationNetworks, `{"ipamV4Subnet": "172.16.10.0/24",`}:                                                 "is not valid JSON: it ends early",
		{AnnotationNetworks, `{"ipamV4Subnet": "172.16.10.0/33"}`}:                                                 `ipamV4Subnet "172.16.10.0/33" is not a CIDR`,
		{AnnotationNetworks, `{"ipamV4Subnet": "172.16.10.5/24"}`}:                                                 "has host bits set: the network is 172.16.10.0/24",
		{AnnotationNetworks, `{"ipamV4Subnet": "fd00::/64"}`}:                                                      "wrong address family",
		{AnnotationNetworks, `{"ipamSubnet": "172.16.10.0/24"}`}:                                                   `unknown field "ipamSubnet"`,
		{AnnotationNetworks, `{"ipamV4Subnet": "10.0.0.0/24", "routeTargetList": ["x"]}`}:                          `routeTargetList "x"`,
		{AnnotationNetworks, `{"routeTargetList": ["target:1:1"]}`}:                                                "a network needs a subnet",
		{AnnotationNetworks, `{"ipamV4Subnet": "10.0.0.0/24", "importRouteTargetList": ["target:64512:8000001"]}`}: `importRouteTargetList "target:64512:8000001": target:<AS>:8000000 and above are the controller's`,
		{AnnotationOpenContrailCIDR, "10.0.0.0/31"}:                                                                "/30 or shorter",
		{AnnotationOpenContrailNetwork, `{"domain":"default-domain"}`}:                                             `"name" is required`,
		{AnnotationOpenContrailNetwork, `not json`}:                                                                "is not valid JSON at offset 2: invalid character",
	} {
		_, err := ParseNetworkIntent(map[string]string{annotations[0]: annotations[1]}, "default", "x")
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), annotations[0]) {
			t.Errorf("%s=%s: got %v, want an error naming the annotation and containing %q", annotations[0], annotations[1], err, want)
		}
	}
}

func TestPluginType(t *testing.T) {
	for config, want := range map[string]string{
		`{"cniVersion": "0.3.1", "name": "vn1", "type": "contrail-k8s-cni"}`:      "contrail-k8s-cni",
		`{"cniVersion": "1.0.0", "plugins": [{"type": "bridge"}, {"type": "x"}]}`: "bridge",
	} {
		if got, err := pluginType(config); err != nil || got != want {
			t.Errorf("pluginType(%s) = %q, %v", config, got, err)
		}
	}
	if _, err := pluginType("{"); err == nil {
		t.Error("bad JSON accepted")
	}
}

// FuzzParseNetworkIntent: no input makes the parser panic, and whatever it
// accepts names a subnet or an existing network.
func FuzzParseNetworkIntent(f *testing.F) {
	f.Add(AnnotationNetworks, `{"ipamV4Subnet": "172.16.10.0/24", "routeTargetList": ["target:23:4561"]}`)
	f.Add(AnnotationOpenContrailCIDR, "10.10.10.0/24")
	f.Add(AnnotationOpenContrailNetwork, `{"project": "p", "name": "n"}`)
	f.Fuzz(func(t *testing.T, key, value string) {
		in, err := ParseNetworkIntent(map[string]string{key: value}, "default", "nad")
		if err == nil && in.Existing == nil && in.V4Subnet == "" && in.V6Subnet == "" {
			t.Fatalf("accepted %s=%q without a subnet or a network", key, value)
		}
	})
}
