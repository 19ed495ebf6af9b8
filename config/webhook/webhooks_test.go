package webhook

import (
	"context"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/admission/plugin/cel"
	apiwebhook "k8s.io/apiserver/pkg/admission/plugin/webhook"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/cel/environment"
)

const (
	controllerUser  = "system:serviceaccount:contrail-system:contrail-k8s-controller"
	kubemanagerUser = "system:serviceaccount:contrail:contrail-k8s-kubemanager"
	someUser        = "system:serviceaccount:default:default"
)

func TestConfigurationsWithoutComponents(t *testing.T) {
	mutating, validating, err := Configurations()
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range mutating.Webhooks {
		if len(w.MatchConditions) > 0 {
			t.Errorf("%s has matchConditions without components to skip", w.Name)
		}
	}
	for _, w := range validating.Webhooks {
		if len(w.MatchConditions) > 0 {
			t.Errorf("%s has matchConditions without components to skip", w.Name)
		}
	}
}

func TestConfigurationsSkipOnlyTheComponentsKinds(t *testing.T) {
	// Unsorted, with a duplicate: the configurations are the same whatever the order.
	mutating, validating, err := Configurations(kubemanagerUser, controllerUser, kubemanagerUser)
	if err != nil {
		t.Fatal(err)
	}
	want := `!(request.userInfo.username in ["system:serviceaccount:contrail-system:contrail-k8s-controller", "system:serviceaccount:contrail:contrail-k8s-kubemanager"])`
	with := map[string]string{}
	for _, w := range mutating.Webhooks {
		if len(w.MatchConditions) > 0 {
			with[w.Name] = w.MatchConditions[0].Expression
		}
	}
	for _, w := range validating.Webhooks {
		if len(w.MatchConditions) > 0 {
			with[w.Name] = w.MatchConditions[0].Expression
		}
	}
	for _, name := range []string{"mvirtualmachine", "vvirtualmachine", "mvirtualmachineinterface", "vvirtualmachineinterface", "minstanceip", "vinstanceip"} {
		expr, ok := with[name+".core.contrail.juniper.net"]
		if !ok {
			t.Errorf("%s has no matchCondition", name)
			continue
		}
		if !strings.HasPrefix(expr, want) {
			t.Errorf("%s: %s, want it to start with %s", name, expr, want)
		}
		delete(with, name+".core.contrail.juniper.net")
	}
	for name := range with {
		t.Errorf("%s skips the components' writes: its kind is not checked by CEL alone", name)
	}
}

// match says whether the kube-apiserver would call w for the request, by
// its own matcher (the code the kube-apiserver runs).
func match(t *testing.T, w *admissionregistrationv1.ValidatingWebhook, username string, op admission.Operation, resource string, obj, old map[string]any) bool {
	t.Helper()
	gvr := schema.GroupVersionResource{Group: "core.contrail.juniper.net", Version: "v1alpha1", Resource: resource}
	gvk := gvr.GroupVersion().WithKind("Object")
	toObject := func(m map[string]any) runtime.Object {
		if m == nil {
			return nil
		}
		u := &unstructured.Unstructured{Object: m}
		u.SetGroupVersionKind(gvk)
		return u
	}
	attr := admission.NewAttributesRecord(toObject(obj), toObject(old), gvk, "", "x", gvr, "", op, nil, false, &user.DefaultInfo{Name: username})
	versioned, err := admission.NewVersionedAttributes(attr, gvk, nil) // of the kind already: no conversion
	if err != nil {
		t.Fatal(err)
	}
	compiler := cel.NewConditionCompiler(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()))
	result := apiwebhook.NewValidatingWebhookAccessor("uid", "cfg", w).GetCompiledMatcher(compiler).Match(context.Background(), versioned, nil, nil)
	if result.Error != nil {
		t.Fatalf("%s: the kube-apiserver fails the request: %v", w.Name, result.Error)
	}
	return result.Matches
}

func TestMatchConditionsAsTheKubeApiserverEvaluatesThem(t *testing.T) {
	_, validating, err := Configurations(controllerUser, kubemanagerUser)
	if err != nil {
		t.Fatal(err)
	}
	webhook := func(name string) *admissionregistrationv1.ValidatingWebhook {
		for i := range validating.Webhooks {
			if validating.Webhooks[i].Name == name {
				return &validating.Webhooks[i]
			}
		}
		t.Fatalf("no webhook %s", name)
		return nil
	}
	spec := func(s map[string]any) map[string]any { return map[string]any{"spec": s} }
	net := map[string]any{"namespace": "default", "name": "vn1"}
	pooled := spec(map[string]any{"instanceIPFamily": "v4", "virtualNetworkReference": net})
	static := spec(map[string]any{"instanceIPAddress": "10.0.0.10", "instanceIPFamily": "v4", "virtualNetworkReference": net})
	vmi := spec(map[string]any{"virtualNetworkReference": net})
	vm := spec(map[string]any{"serverType": "container"})
	for _, c := range []struct {
		name     string
		webhook  string
		user     string
		op       admission.Operation
		resource string
		obj, old map[string]any
		called   bool
	}{
		{"kubemanager makes a VirtualMachine", "vvirtualmachine.core.contrail.juniper.net", kubemanagerUser, admission.Create, "virtualmachines", vm, nil, false},
		{"a user makes a VirtualMachine", "vvirtualmachine.core.contrail.juniper.net", someUser, admission.Create, "virtualmachines", vm, nil, true},
		{"kubemanager makes an interface", "vvirtualmachineinterface.core.contrail.juniper.net", kubemanagerUser, admission.Create, "virtualmachineinterfaces", vmi, nil, false},
		{"the controller allocates its MAC", "vvirtualmachineinterface.core.contrail.juniper.net", controllerUser, admission.Update, "virtualmachineinterfaces", vmi, vmi, false},
		{"kubemanager deletes an interface", "vvirtualmachineinterface.core.contrail.juniper.net", kubemanagerUser, admission.Delete, "virtualmachineinterfaces", nil, vmi, true},
		{"a user makes an interface", "vvirtualmachineinterface.core.contrail.juniper.net", someUser, admission.Create, "virtualmachineinterfaces", vmi, nil, true},
		{"a user updates an interface", "vvirtualmachineinterface.core.contrail.juniper.net", someUser, admission.Update, "virtualmachineinterfaces", vmi, vmi, true},
		{"kubemanager makes a pod's address", "vinstanceip.core.contrail.juniper.net", kubemanagerUser, admission.Create, "instanceips", pooled, nil, false},
		{"kubemanager requests a static address", "vinstanceip.core.contrail.juniper.net", kubemanagerUser, admission.Create, "instanceips", static, nil, true},
		{"the controller allocates an address", "vinstanceip.core.contrail.juniper.net", controllerUser, admission.Update, "instanceips", static, pooled, false},
		{"the controller deletes an address", "vinstanceip.core.contrail.juniper.net", controllerUser, admission.Delete, "instanceips", nil, static, true},
		{"kubemanager sends no spec", "vinstanceip.core.contrail.juniper.net", kubemanagerUser, admission.Create, "instanceips", map[string]any{}, nil, false},
		{"a user makes an address", "vinstanceip.core.contrail.juniper.net", someUser, admission.Create, "instanceips", pooled, nil, true},
		{"a user deletes an address", "vinstanceip.core.contrail.juniper.net", someUser, admission.Delete, "instanceips", nil, static, true},
		{"the controller writes a Subnet", "vsubnet.core.contrail.juniper.net", controllerUser, admission.Update, "subnets", spec(map[string]any{}), spec(map[string]any{}), true},
	} {
		if got := match(t, webhook(c.webhook), c.user, c.op, c.resource, c.obj, c.old); got != c.called {
			t.Errorf("%s: the webhook is called: %v, want %v", c.name, got, c.called)
		}
	}
}
