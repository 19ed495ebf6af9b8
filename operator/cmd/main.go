// Command kontrail-operator runs the Kontrail operator: it reconciles the
// ApiServer, Controller, Kubemanager and Vrouter resources into the
// workloads of each component.
package main

import (
	"flag"

	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/kontrail/kontrail/operator/controller"
	"github.com/kontrail/kontrail/pkg/component"
)

// version is the operator's version, stamped at build time.
var version = "0.1.0"

// /metrics is served to callers the apiserver authenticates and authorizes
// (pkg/component: --metrics-secure).
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

func main() {
	var images controller.Images
	flag.StringVar(&images.ApiServer, "apiserver-image", "kontrail.io/kontrail-apiserver:"+version,
		"Image of the apiserver, unless an ApiServer's spec.common.containers overrides it.")
	flag.StringVar(&images.Controller, "controller-image", "kontrail.io/kontrail-controller:"+version,
		"Image of the controller, unless a Controller's spec.common.containers overrides it.")
	flag.StringVar(&images.Kubemanager, "kubemanager-image", "kontrail.io/kontrail-kubemanager:"+version,
		"Image of kubemanager, unless a Kubemanager's spec.common.containers overrides it.")
	flag.StringVar(&images.VrouterAgent, "vrouter-agent-image", "kontrail.io/kontrail-vrouter-agent:"+version,
		"Image of the vrouter agent (it carries the CNI plugin), unless a Vrouter's spec.common.containers overrides it.")
	component.Main("kontrail-operator",
		"Runs the Kontrail operator, which reconciles the ApiServer, Controller,\nKubemanager and Vrouter resources into the workloads of each component.",
		func(mgr manager.Manager) error {
			return controller.SetupWithManager(mgr, images, version)
		},
		func(o *manager.Options) { o.Cache = controller.CacheOptions() })
}
