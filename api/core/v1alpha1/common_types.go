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

// RouteTargetString is a BGP route target: target:<ASN>:<number> with a
// 2-byte ASN (1-65535) and a 4-byte number, target:<ASN>:<number> with a
// 4-byte ASN (65536-4294967295) and a 2-byte number, or
// target:<IPv4>:<number> with a 2-byte number.
// +kubebuilder:validation:MaxLength=40
// +kubebuilder:validation:XValidation:rule="self.matches('^target:([0-9]{1,10}|[0-9]{1,3}([.][0-9]{1,3}){3}):[0-9]{1,10}$')",message="must be target:<ASN>:<number> or target:<IPv4>:<number>"
// +kubebuilder:validation:XValidation:rule="!self.matches('^target:([0-9]{1,10}|[0-9]{1,3}([.][0-9]{1,3}){3}):[0-9]{1,10}$') || (self.split(':')[1].contains('.') ? (isIP(self.split(':')[1]) && int(self.split(':')[2]) <= 65535) : (int(self.split(':')[1]) >= 1 && int(self.split(':')[1]) <= 4294967295 && int(self.split(':')[2]) <= (int(self.split(':')[1]) <= 65535 ? 4294967295 : 65535)))",message="out of range: the ASN must be 1-4294967295 and the number 0-4294967295 after a 2-byte ASN, 0-65535 after a 4-byte ASN or an IPv4 address"
type RouteTargetString string

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
