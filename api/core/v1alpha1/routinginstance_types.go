package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ImportExport says in which direction a routing instance uses a route
// target: both (empty), import only, or export only.
// +kubebuilder:validation:Enum="";import;export
type ImportExport string

const (
	ImportExportBoth   ImportExport = ""
	ImportExportImport ImportExport = "import"
	ImportExportExport ImportExport = "export"
)

// RouteTargetAttributes qualify a routing instance's use of a route target.
type RouteTargetAttributes struct {
	// ImportExport is the direction; empty means both.
	// +optional
	ImportExport ImportExport `json:"importExport,omitempty"`
}

// RouteTargetReference references a RouteTarget with its attributes.
type RouteTargetReference struct {
	ResourceReference `json:",inline"`

	// Attributes of the reference.
	// +optional
	Attributes RouteTargetAttributes `json:"attributes,omitzero"`
}

// RoutingInstanceSpec is the desired state of a RoutingInstance.
type RoutingInstanceSpec struct {
	CommonSpec `json:",inline"`

	// Parent is the VirtualNetwork the routing instance belongs to.
	// +kubebuilder:validation:XValidation:rule="self.kind == 'VirtualNetwork'",message="must reference a VirtualNetwork"
	// +kubebuilder:validation:XValidation:rule="self.name == oldSelf.name",message="is immutable"
	// +required
	Parent ResourceReference `json:"parent"`

	// RouteTargetReferences are the route targets the instance imports and exports.
	// +kubebuilder:validation:MaxItems=512
	// +optional
	RouteTargetReferences []RouteTargetReference `json:"routeTargetReferences,omitempty"`
}

// RoutingInstanceStatus is the observed state of a RoutingInstance.
type RoutingInstanceStatus struct {
	CommonStatus `json:",inline"`

	// DefaultRouteTargetReference is the system route target allocated for the instance.
	// +optional
	DefaultRouteTargetReference *RouteTargetReference `json:"defaultRouteTargetReference,omitempty"`

	// DefaultRouteTarget is the default route target in <ASN>:<number> form,
	// as the ROUTETARGET column shows it.
	// +optional
	DefaultRouteTarget string `json:"defaultRouteTarget,omitempty"`

	// IsDefault is true for the routing instance a VirtualNetwork gets by default.
	// +optional
	IsDefault bool `json:"isDefault,omitempty"`

	// VirtualNetworkRouterRouteTargetReferences are the route targets the
	// instance imports and exports because VirtualNetworkRouters select its
	// network, by VirtualNetworkRouter (namespace/name).
	// +optional
	VirtualNetworkRouterRouteTargetReferences map[string][]RouteTargetReference `json:"virtualNetworkRouterRouteTargetReferences,omitempty"`
}

// RoutingInstance is a group of customer attachment points with the same
// connectivity policies. Corresponding to the VRF in L3VPN/EVPN.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ri,categories=contrail
// +kubebuilder:printcolumn:name="RouteTarget",type=string,JSONPath=`.status.defaultRouteTarget`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type RoutingInstance struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// +required
	Spec RoutingInstanceSpec `json:"spec"`
	// +optional
	Status RoutingInstanceStatus `json:"status,omitzero"`
}

// RoutingInstanceList is a list of RoutingInstances.
//
// +kubebuilder:object:root=true
type RoutingInstanceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []RoutingInstance `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &RoutingInstance{}, &RoutingInstanceList{})
}
