// Command kontrail-controller runs the Kontrail controller: it allocates
// network ids, routing instances, route targets, addresses and MACs.
package main

import (
	"context"
	"flag"

	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/kontrail/kontrail/components/controller/controllers"
	"github.com/kontrail/kontrail/pkg/component"
)

// /metrics is served to callers the apiserver authenticates and authorizes
// (pkg/component: --metrics-secure).
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

func main() {
	var opts controllers.Options
	var as uint
	flag.UintVar(&as, "autonomous-system", 64512, "Autonomous system of the system route targets, target:<AS>:<8000000+n>.")
	flag.IntVar(&opts.Workers, "workers", 8, "Reconciles each of the controller's reconcilers runs at once.")

	component.MainOnePerCluster("kontrail-controller", "kube-system",
		"Runs the Kontrail controller: allocates VNIs, routing instances, route targets,\naddresses and MACs. Its replicas, in whatever namespace, elect one leader\n(lease kube-system/kontrail-controller.kontrail.juniper.net): only it allocates.",
		func(mgr manager.Manager) error {
			opts.AutonomousSystem = uint32(as)
			_, err := controllers.Setup(context.Background(), mgr, opts)
			return err
		})
}
