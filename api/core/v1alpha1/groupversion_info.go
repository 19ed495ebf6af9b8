// Package v1alpha1 holds the core.contrail.juniper.net/v1alpha1 API: the
// Contrail objects (VirtualNetwork, Subnet, RoutingInstance, ...) that every
// Kontrail component reads and writes.
//
// The package registers its types with apimachinery's SchemeBuilder rather
// than controller-runtime's, so that the node agent can import it without
// pulling in a controller framework.
//
// +kubebuilder:object:generate=true
// +groupName=core.contrail.juniper.net
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of every type in this package.
	GroupVersion = schema.GroupVersion{Group: "core.contrail.juniper.net", Version: "v1alpha1"}

	// SchemeBuilder collects the functions that add this package's types to a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds this package's types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme

	// objectTypes is appended to by each kind's file, so that adding a kind
	// touches only its own file.
	objectTypes []runtime.Object
)

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(GroupVersion, objectTypes...)
	metav1.AddToGroupVersion(scheme, GroupVersion)
	return nil
}
