// Package webhook embeds the webhook configurations controller-gen renders
// from the apiserver's webhook markers; the operator installs copies that
// point at each ApiServer's Service, with the CA it issued, and that skip
// the writes of Kontrail's own components where the CRDs check all the
// webhook would (Configurations).
package webhook

import (
	_ "embed"
	"fmt"
	"slices"
	"strconv"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"sigs.k8s.io/yaml"
)

//go:embed manifests.yaml
var manifests string

// MatchConditionName names the matchCondition that skips the components' writes.
const MatchConditionName = "not-a-kontrail-component-write"

// ComponentWritesStillAdmitted are, per resource whose webhooks skip the
// components' writes, the requests of a component's account that still go
// to the webhooks: those a check that reads other objects may refuse.
//
// What the webhooks check of one object alone is also in the CRDs' CEL,
// which applies to every writer, and the components write these objects
// in defaulted form (api/core/v1alpha1/defaults.go). What the webhooks
// check against other objects is done so:
//   - deletions of interfaces and addresses (refused while their pod runs
//     plugged) still go to the webhook;
//   - a requested address (kubemanager's Services' cluster IPs and pods'
//     static "ips") still goes to the webhook, which refuses one outside
//     its network's subnets; the controller allocates the others from
//     those subnets, and refuses such an address too;
//   - an interface's network of another cluster: kubemanager checks its
//     own before it makes them (corev1alpha1.CheckNetworkCluster).
var ComponentWritesStillAdmitted = map[string]string{
	"virtualmachines":          "",
	"virtualmachineinterfaces": "request.operation == 'DELETE'",
	"instanceips": "request.operation == 'DELETE' || " +
		"(request.operation == 'CREATE' && has(object.spec) && has(object.spec.instanceIPAddress))",
}

// MatchCondition is the condition under which a webhook of resource is
// called, given the usernames of the components' accounts; false when the
// resource's webhooks skip no writes, or there are no components.
func MatchCondition(resource string, components []string) (admissionregistrationv1.MatchCondition, bool) {
	still, ok := ComponentWritesStillAdmitted[resource]
	if !ok || len(components) == 0 {
		return admissionregistrationv1.MatchCondition{}, false
	}
	users := slices.Clone(components)
	slices.Sort(users)
	users = slices.Compact(users)
	quoted := make([]string, len(users))
	for i, u := range users {
		quoted[i] = strconv.Quote(u)
	}
	expr := "!(request.userInfo.username in [" + strings.Join(quoted, ", ") + "])"
	if still != "" {
		expr += " || " + still
	}
	return admissionregistrationv1.MatchCondition{Name: MatchConditionName, Expression: expr}, true
}

// Configurations returns the generated mutating and validating webhook
// configurations. components are the usernames of Kontrail's own
// components (system:serviceaccount:<namespace>:<account> of each
// Controller's and Kubemanager's pods): the webhooks of VirtualMachines,
// VirtualMachineInterfaces and InstanceIPs get a matchCondition that skips
// their writes, but for ComponentWritesStillAdmitted. With none, the
// configurations are the generated ones.
func Configurations(components ...string) (*admissionregistrationv1.MutatingWebhookConfiguration, *admissionregistrationv1.ValidatingWebhookConfiguration, error) {
	mutating, validating, err := generated()
	if err != nil {
		return nil, nil, err
	}
	for i := range mutating.Webhooks {
		w := &mutating.Webhooks[i]
		if c, ok := MatchCondition(resourceOf(w.Rules), components); ok {
			w.MatchConditions = append(w.MatchConditions, c)
		}
	}
	for i := range validating.Webhooks {
		w := &validating.Webhooks[i]
		if c, ok := MatchCondition(resourceOf(w.Rules), components); ok {
			w.MatchConditions = append(w.MatchConditions, c)
		}
	}
	return mutating, validating, nil
}

// resourceOf is the one resource a webhook's rules name, or "".
func resourceOf(rules []admissionregistrationv1.RuleWithOperations) string {
	one := ""
	for _, r := range rules {
		for _, res := range r.Resources {
			if one != "" && res != one {
				return ""
			}
			one = res
		}
	}
	return one
}

// generated parses the embedded configurations.
func generated() (*admissionregistrationv1.MutatingWebhookConfiguration, *admissionregistrationv1.ValidatingWebhookConfiguration, error) {
	var mutating admissionregistrationv1.MutatingWebhookConfiguration
	var validating admissionregistrationv1.ValidatingWebhookConfiguration
	for _, doc := range strings.Split(manifests, "\n---\n") {
		if strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(doc), "---")) == "" {
			continue
		}
		var head struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			return nil, nil, fmt.Errorf("failed to parse the generated webhook manifests: %w", err)
		}
		var err error
		switch head.Kind {
		case "MutatingWebhookConfiguration":
			err = yaml.UnmarshalStrict([]byte(doc), &mutating)
		case "ValidatingWebhookConfiguration":
			err = yaml.UnmarshalStrict([]byte(doc), &validating)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("failed to parse the generated %s: %w", head.Kind, err)
		}
	}
	if len(mutating.Webhooks) == 0 || len(validating.Webhooks) == 0 {
		return nil, nil, fmt.Errorf("the generated webhook manifests lack a mutating or validating configuration")
	}
	return &mutating, &validating, nil
}
