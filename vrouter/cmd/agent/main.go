// Command kontrail-vrouter-agent runs the Kontrail node agent on every node.
package main

import (
	"flag"

	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/kontrail/kontrail/pkg/component"
	"github.com/kontrail/kontrail/vrouter/agent"
)

// /metrics is served to callers the apiserver authenticates and authorizes
// (pkg/component: --metrics-secure).
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

func main() {
	var cfg agent.Config
	cfg.BindFlags(flag.CommandLine)
	component.Main("kontrail-vrouter-agent",
		"Runs the Kontrail vrouter agent: programs the node's dataplane and serves the CNI plugin.",
		func(mgr manager.Manager) error {
			_, err := agent.New(mgr, cfg)
			return err
		},
		func(o *manager.Options) { o.Cache = agent.CacheOptions(cfg.NodeName) })
}
