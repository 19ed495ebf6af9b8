// Package controller registers the operator's reconcilers: one per
// deployment resource, each in the package of its API group.
package controller

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/kontrail/kontrail/operator/controller/component"
	"github.com/kontrail/kontrail/operator/controller/configplane"
	"github.com/kontrail/kontrail/operator/controller/dataplane"
)

// Images are the components' images, unless a resource's
// spec.common.containers overrides one.
type Images struct {
	ApiServer, Controller, Kubemanager, VrouterAgent string
}

// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=clusterroles;clusterrolebindings,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingadmissionpolicies;validatingadmissionpolicybindings,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=serviceaccounts,verbs=get;list;watch;create;update;patch;delete

// SetupWithManager registers every reconciler.
func SetupWithManager(mgr manager.Manager, images Images, version string) error {
	if err := configplane.SetupWithManager(mgr, configplane.Images{ApiServer: images.ApiServer,
		Controller: images.Controller, Kubemanager: images.Kubemanager}, version); err != nil {
		return err
	}
	return dataplane.SetupWithManager(mgr, images.VrouterAgent, version)
}

// CacheOptions keep only what the operator made in its cache of the kinds
// a cluster has many of (pods, secrets, workloads): its memory does not
// grow with the cluster's workloads.
func CacheOptions() cache.Options {
	mine := labels.SelectorFromSet(labels.Set{component.LabelManagedBy: component.ManagedBy})
	return cache.Options{ByObject: map[client.Object]cache.ByObject{
		&corev1.Pod{}:            {Label: mine},
		&corev1.Secret{}:         {Label: mine},
		&corev1.Service{}:        {Label: mine},
		&corev1.ServiceAccount{}: {Label: mine},
		&appsv1.Deployment{}:     {Label: mine},
		&appsv1.DaemonSet{}:      {Label: mine},
	}}
}
