package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// State is the coarse outcome of the last reconciliation of an object, as
// CN2 shows it in the STATE column.
// +kubebuilder:validation:Enum=Success;Pending;Failure
type State string

const (
	// StateSuccess: everything the object asks for is in place.
	StateSuccess State = "Success"
	// StatePending: work is under way or waits on another object.
	StatePending State = "Pending"
	// StateFailure: the object cannot be realised; Observation says why.
	StateFailure State = "Failure"
)

// CommonSpec holds the fields every Contrail object's spec carries.
type CommonSpec struct {
	// FQName is the object's fully qualified Contrail name, e.g.
	// [default-domain, <namespace>, <name>]. Defaulted by the apiserver's
	// webhook when empty.
	// +optional
	FQName []string `json:"fqName,omitempty"`
}

// CommonStatus holds the fields every Contrail object's status carries.
type CommonStatus struct {
	// State is the outcome of the last reconciliation.
	// +optional
	State State `json:"state,omitempty"`

	// Observation is a human-readable message on the state: empty on success,
	// the reason on failure.
	// +optional
	Observation string `json:"observation,omitempty"`

	// ObservedGeneration is the metadata.generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions are the detailed, typed observations of the object.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// ResourceReference is a typed reference to another object, as CN2 writes
// them: enough to find the object (kind, namespace, name) and to tell a
// recreated object from the one referenced (uid).
type ResourceReference struct {
	// APIVersion of the referenced object.
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`
	// Kind of the referenced object.
	// +optional
	Kind string `json:"kind,omitempty"`
	// Namespace of the referenced object; empty for cluster-scoped kinds.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// Name of the referenced object.
	// +required
	Name string `json:"name"`
	// UID of the referenced object when the reference was made.
	// +optional
	UID types.UID `json:"uid,omitempty"`
	// ResourceVersion of the referenced object when the reference was made.
	// +optional
	ResourceVersion string `json:"resourceVersion,omitempty"`
	// FQName of the referenced object.
	// +optional
	FQName []string `json:"fqName,omitempty"`
}
