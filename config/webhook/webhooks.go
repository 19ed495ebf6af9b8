// Package webhook embeds the webhook configurations controller-gen renders
// from the apiserver's webhook markers; the operator installs copies that
// point at each ApiServer's Service, with the CA it issued.
package webhook

import (
	_ "embed"
	"fmt"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"sigs.k8s.io/yaml"
)

//go:embed manifests.yaml
var manifests string

// Configurations returns the generated mutating and validating webhook configurations.
func Configurations() (*admissionregistrationv1.MutatingWebhookConfiguration, *admissionregistrationv1.ValidatingWebhookConfiguration, error) {
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
