package kubemanager

import (
	"strings"
	"testing"
)

func TestParseSelections(t *testing.T) {
	// The seeds' forms.
	atts, err := ParseSelections("left-network,blue-network,right-network,extns/data-network", "default")
	if err != nil || len(atts) != 4 || atts[3].Namespace != "extns" || atts[3].Name != "data-network" || atts[0].Namespace != "default" {
		t.Fatalf("comma list: %+v, %v", atts, err)
	}
	atts, err = ParseSelections(`[{ "name": "network-a" }, { "name": "network-b" }]`, "ns1")
	if err != nil || len(atts) != 2 || atts[1].Name != "network-b" || atts[1].Namespace != "ns1" {
		t.Fatalf("JSON list: %+v, %v", atts, err)
	}
	atts, err = ParseSelections("vn1@net1", "default")
	if err != nil || atts[0].Interface != "net1" {
		t.Fatalf("name@ifname: %+v, %v", atts, err)
	}
	atts, err = ParseSelections(`[{"name": "vn1", "ips": ["172.16.10.5/24"], "mac": "02:AA:bb:cc:dd:ee", "interface": "data0", "default-route": ["172.16.10.1"], "cni-args": {"x": "y"}}]`, "default")
	if err != nil || atts[0].IPs[0].String() != "172.16.10.5" || atts[0].MAC != "02:aa:bb:cc:dd:ee" || atts[0].DefaultRoute[0].String() != "172.16.10.1" {
		t.Fatalf("JSON with every key: %+v, %v", atts, err)
	}
	atts, err = ParseSelections(`[{"name": "vn1", "bandwidth": {"ingressRate": 1}}, {"name": "vn2"}]`, "default")
	if err != nil || !strings.Contains(atts[0].Unsupported, `key "bandwidth" (bandwidth limits) is not implemented`) || atts[1].Unsupported != "" {
		t.Fatalf("unimplemented key: %+v, %v", atts, err)
	}

	for annotation, want := range map[string]string{
		`[{"name": "vn1"`: "failed to parse",
		`[{"name": "vn1", "interface": "eth1"}, {"name": "vn2", "interface": "eth1"}]`:                 `interface "eth1" is already used by element 0`,
		`[{"name": "a", "default-route": ["10.0.0.1"]}, {"name": "b", "default-route": ["10.1.0.1"]}]`: "default-route is set on more than one element",
		`[{"name": "vn1", "ips": ["172.16.10.300"]}]`:                                                  `ips: "172.16.10.300" is not an IP address`,
		`[{"name": "vn1", "mac": "02:aa"}]`:                                                            `mac "02:aa" is not a MAC address`,
		`[{"name": "vn1", "mac": "01:00:5e:00:00:01"}]`:                                                "multicast",
		`[{"name": "vn1", "interface": "eth/1"}]`:                                                      "not a Linux interface name",
		`[{"name": "vn1", "colour": "red"}]`:                                                           `unknown key "colour"`,
		`[{"namespace": "x"}]`:                                                                         `"name" is required`,
		"Bad_Name":                                                                                     "Failed to parse",
	} {
		_, err := ParseSelections(annotation, "default")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error containing %q", annotation, err, want)
		}
	}
}

// FuzzParseSelections: no annotation makes the parser panic, and what it
// accepts has names and distinct interface names.
func FuzzParseSelections(f *testing.F) {
	f.Add("left-network,blue-network,extns/data-network")
	f.Add(`[{"name": "vn1", "ips": ["172.16.10.5/24"], "interface": "eth1", "default-route": ["172.16.10.1"]}]`)
	f.Add("vn1@net1")
	f.Fuzz(func(t *testing.T, annotation string) {
		if strings.TrimSpace(annotation) == "" {
			return
		}
		atts, err := ParseSelections(annotation, "default")
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, a := range atts {
			if a.Name == "" {
				t.Fatalf("accepted an element without a name: %q", annotation)
			}
			if a.Interface != "" && seen[a.Interface] {
				t.Fatalf("accepted a duplicate interface: %q", annotation)
			}
			seen[a.Interface] = true
		}
	})
}
