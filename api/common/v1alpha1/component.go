package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Component is a deployment resource: one component's workload.
// +kubebuilder:object:generate=false
type Component interface {
	metav1.Object
	runtime.Object
	// GetComponentSpec returns the spec fields every deployment resource shares.
	GetComponentSpec() *ComponentSpec
	// GetComponentStatus returns the status every deployment resource has.
	GetComponentStatus() *ComponentStatus
}
