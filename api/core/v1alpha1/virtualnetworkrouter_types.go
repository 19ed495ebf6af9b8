package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// VirtualNetworkRouterType is how a VirtualNetworkRouter connects its networks.
// +kubebuilder:validation:Enum=mesh;hub;spoke
type VirtualNetworkRouterType string

const (
	// VirtualNetworkRouterMesh: every selected network reaches every other.
	VirtualNetworkRouterMesh VirtualNetworkRouterType = "mesh"
	// VirtualNetworkRouterHub: hub networks reach the spokes they import, not each other.
	VirtualNetworkRouterHub VirtualNetworkRouterType = "hub"
	// VirtualNetworkRouterSpoke: spoke networks reach the hubs they import, never other spokes.
	VirtualNetworkRouterSpoke VirtualNetworkRouterType = "spoke"
)

// ImportedVirtualNetworkRouter selects VirtualNetworkRouters whose networks
// this router connects to.
type ImportedVirtualNetworkRouter struct {
	// VirtualNetworkRouterSelector selects the routers by label.
	// +optional
	VirtualNetworkRouterSelector *metav1.LabelSelector `json:"virtualNetworkRouterSelector,omitempty"`
	// NamespaceSelector selects the namespaces to look in; absent means this router's own.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
}

// VirtualNetworkRouterImport lists what a VirtualNetworkRouter imports.
type VirtualNetworkRouterImport struct {
	// VirtualNetworkRouters to import.
	// +kubebuilder:validation:MaxItems=64
	// +optional
	VirtualNetworkRouters []ImportedVirtualNetworkRouter `json:"virtualNetworkRouters,omitempty"`
}

// VirtualNetworkRouterSpec is the desired state of a VirtualNetworkRouter.
type VirtualNetworkRouterSpec struct {
	CommonSpec `json:",inline"`

	// Type is mesh, hub or spoke.
	// +required
	Type VirtualNetworkRouterType `json:"type"`

	// VirtualNetworkSelector selects the router's networks, in its namespace, by label.
	// +optional
	VirtualNetworkSelector *metav1.LabelSelector `json:"virtualNetworkSelector,omitempty"`

	// Import lists other routers whose networks this one connects to.
	// +optional
	Import VirtualNetworkRouterImport `json:"import,omitzero"`
}

// VirtualNetworkRouterStatus is the observed state of a VirtualNetworkRouter.
type VirtualNetworkRouterStatus struct {
	CommonStatus `json:",inline"`

	// RouteTarget is the route target the controller allocated for the
	// router: its networks export it, and the networks of routers that
	// import this one import it.
	// +optional
	RouteTarget RouteTargetString `json:"routeTarget,omitempty"`

	// VirtualNetworks are the networks the router selects, as <namespace>/<name>.
	// +optional
	VirtualNetworks []string `json:"virtualNetworks,omitempty"`
}

// VirtualNetworkRouter establishes connectivity between two or more
// VirtualNetworks.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=vnr,categories=contrail
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type VirtualNetworkRouter struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// +required
	Spec VirtualNetworkRouterSpec `json:"spec"`
	// +optional
	Status VirtualNetworkRouterStatus `json:"status,omitzero"`
}

// VirtualNetworkRouterList is a list of VirtualNetworkRouters.
//
// +kubebuilder:object:root=true
type VirtualNetworkRouterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []VirtualNetworkRouter `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &VirtualNetworkRouter{}, &VirtualNetworkRouterList{})
}
