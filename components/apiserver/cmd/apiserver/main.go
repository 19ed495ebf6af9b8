// Command kontrail-apiserver serves the admission webhooks of the
// core.contrail.juniper.net API: defaulting, and the validation the CRD
// schema cannot express.
package main

import (
	"flag"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	apiwebhook "github.com/kontrail/kontrail/components/apiserver/webhook"
	"github.com/kontrail/kontrail/pkg/component"
)

// /metrics is served to callers the apiserver authenticates and authorizes
// (pkg/component: --metrics-secure).
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

func main() {
	var (
		certDir string
		port    int
	)
	flag.StringVar(&certDir, "cert-dir", "/tmp/k8s-webhook-server/serving-certs",
		"Directory with the serving certificate (tls.crt, tls.key), e.g. a mounted Secret; reloaded when it changes.")
	flag.IntVar(&port, "webhook-port", 9443, "Port the webhook server listens on (TLS).")

	component.Main("kontrail-apiserver",
		"Serves the admission webhooks of the core.contrail.juniper.net API:\ndefaulting, and the validation the CRD schema cannot express.",
		setup,
		func(o *manager.Options) {
			o.WebhookServer = webhook.NewServer(webhook.Options{CertDir: certDir, Port: port})
		})
}

func setup(mgr manager.Manager) error {
	if err := apiwebhook.Setup(mgr); err != nil {
		return err
	}
	// Ready once the webhook server serves TLS, so no admission request is
	// sent to a replica that cannot answer it.
	if err := mgr.AddReadyzCheck("webhook", mgr.GetWebhookServer().StartedChecker()); err != nil {
		return fmt.Errorf("failed to add the webhook readiness check: %w", err)
	}
	return nil
}
