package v1alpha1

import (
	"strings"
	"testing"
)

func TestParseRouteTarget(t *testing.T) {
	valid := map[string]string{
		"target:23:4561":          "target-23-4561",
		"target:64512:8000009":    "target-64512-8000009",
		"target:10.2.2.2:561":     "target-10.2.2.2-561",
		"target:65535:4294967295": "target-65535-4294967295",
		"target:4200000000:65535": "target-4200000000-65535",
	}
	for in, name := range valid {
		v, err := ParseRouteTarget(in)
		if err != nil {
			t.Errorf("ParseRouteTarget(%q): %v", in, err)
			continue
		}
		if v.String() != in || v.ObjectName() != name {
			t.Errorf("ParseRouteTarget(%q) = %s / %s, want %s / %s", in, v, v.ObjectName(), in, name)
		}
		back, err := ParseRouteTargetObjectName(name)
		if err != nil || back != v {
			t.Errorf("ParseRouteTargetObjectName(%q) = %v, %v; want %v", name, back, err, v)
		}
	}
	invalid := map[string]string{
		"23:4561":               "must be target:",
		"target:23":             "must be target:",
		"target::5":             "must be target:",
		"target:0:5":            "AS number",
		"target:x:5":            "AS number",
		"target:23:x":           "number",
		"target:23:4294967296":  "number",
		"target:4294967296:1":   "AS number",
		"target:70000:70000":    "at most 65535 after a 4-byte AS number",
		"target:10.1.1.1:65536": "at most 65535 after an IPv4 address",
		"target:10.1.1:5":       "IPv4",
		"target:fd00::1:5":      "must be target:",
		"target:23:45:61":       "must be target:",
		"target:300.1.1.1:5":    "IPv4",
	}
	for in, want := range invalid {
		_, err := ParseRouteTarget(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseRouteTarget(%q) = %v, want an error containing %q", in, err, want)
		}
	}
}
