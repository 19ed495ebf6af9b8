// Command kontrail-kubemanager turns Kubernetes objects into Contrail ones:
// NetworkAttachmentDefinitions into VirtualNetworks, pods into
// VirtualMachines, interfaces and addresses, with their network-status.
package main

import (
	"context"
	"flag"

	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/kontrail/kontrail/components/kubemanager/kubemanager"
	"github.com/kontrail/kontrail/pkg/component"
)

// /metrics is served to callers the apiserver authenticates and authorizes
// (pkg/component: --metrics-secure).
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

func main() {
	var cfg kubemanager.Config
	cfg.BindFlags(flag.CommandLine)
	component.Main("kontrail-kubemanager",
		"Turns NetworkAttachmentDefinitions into VirtualNetworks and pods into VirtualMachines,\ninterfaces and addresses, and writes the pods' network-status. Every flag\ndefaults to the KUBEMANAGER_* environment variable named in its help.",
		func(mgr manager.Manager) error {
			return kubemanager.Setup(context.Background(), mgr, &cfg)
		})
}
