package crd

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/install"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apimachinery/pkg/runtime"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

// The CRDs' CEL rules run here as the kube-apiserver runs them (its own
// validator, cost budget and messages), and the CRDs pass the checks the
// kube-apiserver makes when they are installed, CEL cost limits included.
// The envtest suite runs them against the real kube-apiserver too
// (tests/envtest/admission_test.go).

var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	install.Install(s)
	return s
}()

// loadCRD reads a CRD of bases as the kube-apiserver holds it.
func loadCRD(t *testing.T, file string) *apiextensions.CustomResourceDefinition {
	t.Helper()
	data, err := bases.ReadFile("bases/" + file)
	if err != nil {
		t.Fatal(err)
	}
	var v1 apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(data, &v1); err != nil {
		t.Fatal(err)
	}
	scheme.Default(&v1)
	var crd apiextensions.CustomResourceDefinition
	if err := scheme.Convert(&v1, &crd, nil); err != nil {
		t.Fatal(err)
	}
	return &crd
}

func TestCRDsInstall(t *testing.T) {
	entries, err := bases.ReadDir("bases")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		crd := loadCRD(t, e.Name())
		if errs := validation.ValidateCustomResourceDefinition(context.Background(), crd); len(errs) > 0 {
			t.Errorf("%s would be refused by the kube-apiserver: %v", e.Name(), errs.ToAggregate())
		}
	}
}

// celOf validates new (and old, on an update) against the CRD's CEL rules
// and returns the errors, one per line.
func celOf(t *testing.T, crd *apiextensions.CustomResourceDefinition, newJSON, oldJSON string) string {
	t.Helper()
	// The internal form holds a schema that every version shares at the top.
	var props *apiextensions.JSONSchemaProps
	if crd.Spec.Validation != nil {
		props = crd.Spec.Validation.OpenAPIV3Schema
	} else {
		props = crd.Spec.Versions[0].Schema.OpenAPIV3Schema
	}
	s, err := schema.NewStructural(props)
	if err != nil {
		t.Fatal(err)
	}
	parse := func(text string) any {
		if text == "" {
			return nil
		}
		var obj map[string]any
		if err := json.Unmarshal([]byte(text), &obj); err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		return obj
	}
	errs, _ := cel.NewValidator(s, true, celconfig.PerCallLimit).Validate(context.Background(), nil, s, parse(newJSON), parse(oldJSON), celconfig.RuntimeCELCostBudget)
	var lines []string
	for _, e := range errs {
		lines = append(lines, e.Error())
	}
	return strings.Join(lines, "\n")
}

func object(kind, spec string) string {
	return fmt.Sprintf(`{"apiVersion": "core.contrail.juniper.net/v1alpha1", "kind": %q, "metadata": {"name": "x", "namespace": "default"}, "spec": %s}`, kind, spec)
}

func TestInstanceIPRules(t *testing.T) {
	crd := loadCRD(t, "core.contrail.juniper.net_instanceips.yaml")
	iip := func(spec string) string { return object("InstanceIP", spec) }
	const net = `"virtualNetworkReference": {"namespace": "default", "name": "vn1"}`
	for _, c := range []struct {
		name, obj, old, want string
	}{
		{"a pod's address to allocate", iip(`{"instanceIPFamily": "v4", ` + net + `}`), "", ""},
		{"a static address", iip(`{"instanceIPAddress": "fd00::2", "instanceIPFamily": "v6", ` + net + `}`), "", ""},
		{"not an address", iip(`{"instanceIPAddress": "172.16.10.300", "instanceIPFamily": "v4", ` + net + `}`), "",
			`spec.instanceIPAddress: Invalid value: "172.16.10.300": must be an IP address`},
		{"an address of the other family", iip(`{"instanceIPAddress": "fd00::2", "instanceIPFamily": "v4", ` + net + `}`), "",
			`spec.instanceIPAddress: Invalid value: "fd00::2": is not of instanceIPFamily v4`},
		{"an address without its family", iip(`{"instanceIPAddress": "172.16.10.2", ` + net + `}`), "",
			`spec.instanceIPAddress: Invalid value: "172.16.10.2": needs its instanceIPFamily (v4 or v6)`},
		{"no network name", iip(`{"virtualNetworkReference": {"namespace": "default", "name": ""}}`), "",
			`spec.virtualNetworkReference.name: Required value: the VirtualNetwork's name`},
		{"no network namespace", iip(`{"virtualNetworkReference": {"name": "vn1"}}`), "",
			`spec.virtualNetworkReference.namespace: Required value: an InstanceIP is cluster-scoped: name the VirtualNetwork's namespace`},
		{"the address allocated", iip(`{"instanceIPAddress": "172.16.10.2", "instanceIPFamily": "v4", ` + net + `}`),
			iip(`{"instanceIPFamily": "v4", ` + net + `}`), ""},
		{"the address changed", iip(`{"instanceIPAddress": "172.16.10.3", "instanceIPFamily": "v4", ` + net + `}`),
			iip(`{"instanceIPAddress": "172.16.10.2", "instanceIPFamily": "v4", ` + net + `}`),
			`spec.instanceIPAddress: Invalid value: "172.16.10.3": is immutable once set (was 172.16.10.2)`},
		{"the address removed", iip(`{"instanceIPFamily": "v4", ` + net + `}`),
			iip(`{"instanceIPAddress": "172.16.10.2", "instanceIPFamily": "v4", ` + net + `}`),
			`spec.instanceIPAddress: Invalid value: "": is immutable once set (was 172.16.10.2)`},
		{"the network changed", iip(`{"instanceIPFamily": "v4", "virtualNetworkReference": {"namespace": "default", "name": "vn2"}}`),
			iip(`{"instanceIPFamily": "v4", ` + net + `}`),
			`spec.virtualNetworkReference: Invalid value: "default/vn2": is immutable (was default/vn1)`},
		{"the network's namespace changed", iip(`{"instanceIPFamily": "v4", "virtualNetworkReference": {"namespace": "other", "name": "vn1"}}`),
			iip(`{"instanceIPFamily": "v4", ` + net + `}`),
			`spec.virtualNetworkReference: Invalid value: "other/vn1": is immutable (was default/vn1)`},
	} {
		if got := celOf(t, crd, c.obj, c.old); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestVirtualMachineInterfaceRules(t *testing.T) {
	crd := loadCRD(t, "core.contrail.juniper.net_virtualmachineinterfaces.yaml")
	vmi := func(spec string) string { return object("VirtualMachineInterface", spec) }
	const net = `"virtualNetworkReference": {"namespace": "default", "name": "vn1"}`
	for _, c := range []struct {
		name, obj, old, want string
	}{
		{"an interface", vmi(`{"interfaceName": "eth1", "virtualMachineInterfaceMacAddresses": {"macAddress": ["02:11:8e:c0:2f:e0"]}, ` + net + `}`), "", ""},
		{"a bad MAC", vmi(`{"virtualMachineInterfaceMacAddresses": {"macAddress": ["02:21:0f:f6:47"]}, ` + net + `}`), "",
			`spec.virtualMachineInterfaceMacAddresses.macAddress[0]: Invalid value: "02:21:0f:f6:47": must be a MAC address such as 02:11:8e:c0:2f:e0`},
		{"a bad interface name", vmi(`{"interfaceName": "eth/1", ` + net + `}`), "",
			`spec.interfaceName: Invalid value: "eth/1": must be a Linux interface name: at most 15 characters, no '/', ':' or white space`},
		{"no network name", vmi(`{"virtualNetworkReference": {"name": ""}}`), "",
			`spec.virtualNetworkReference.name: Required value: the VirtualNetwork's name`},
		{"the MAC allocated", vmi(`{"virtualMachineInterfaceMacAddresses": {"macAddress": ["02:11:8e:c0:2f:e0"]}, ` + net + `}`), vmi(`{` + net + `}`), ""},
		{"the network changed", vmi(`{"virtualNetworkReference": {"namespace": "default", "name": "vn2"}}`), vmi(`{` + net + `}`),
			`spec.virtualNetworkReference: Invalid value: "default/vn2": is immutable (was default/vn1)`},
		{"the network's namespace dropped", vmi(`{"virtualNetworkReference": {"name": "vn1"}}`), vmi(`{` + net + `}`),
			`spec.virtualNetworkReference: Invalid value: "/vn1": is immutable (was default/vn1)`},
	} {
		if got := celOf(t, crd, c.obj, c.old); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}
