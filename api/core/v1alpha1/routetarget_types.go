package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RouteTargetSpec is the desired state of a RouteTarget. The route target
// itself is the object's name: target-<ASN>-<number> or
// target-<IPv4>-<number> for target:<ASN>:<number> or target:<IPv4>:<number>.
type RouteTargetSpec struct {
	CommonSpec `json:",inline"`
}

// RouteTargetStatus is the observed state of a RouteTarget.
type RouteTargetStatus struct {
	CommonStatus `json:",inline"`
}

// RouteTarget is a route-target extended community, a type of BGP extended
// community that used to define VPN membership. The route target appears in
// a field in route update.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=rt,categories=contrail
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^target-([0-9]{1,10}|[0-9]{1,3}([.][0-9]{1,3}){3})-[0-9]{1,10}$')",message="metadata.name must be target-<ASN>-<number> or target-<IPv4>-<number>"
type RouteTarget struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// +optional
	Spec RouteTargetSpec `json:"spec,omitzero"`
	// +optional
	Status RouteTargetStatus `json:"status,omitzero"`
}

// RouteTargetList is a list of RouteTargets.
//
// +kubebuilder:object:root=true
type RouteTargetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []RouteTarget `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &RouteTarget{}, &RouteTargetList{})
}
