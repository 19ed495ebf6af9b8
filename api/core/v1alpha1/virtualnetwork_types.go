package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ForwardingMode says whether a VirtualNetwork switches, routes, or both.
// +kubebuilder:validation:Enum=l2_l3;l2;l3
type ForwardingMode string

const (
	ForwardingModeL2L3 ForwardingMode = "l2_l3"
	ForwardingModeL2   ForwardingMode = "l2"
	ForwardingModeL3   ForwardingMode = "l3"
)

// RPFMode switches reverse-path forwarding checks on a VirtualNetwork.
// +kubebuilder:validation:Enum=enable;disable
type RPFMode string

const (
	RPFEnable  RPFMode = "enable"
	RPFDisable RPFMode = "disable"
)

// VirtualNetworkProperties are the forwarding properties of a VirtualNetwork.
type VirtualNetworkProperties struct {
	// ForwardingMode of the network.
	// +kubebuilder:default=l2_l3
	// +optional
	ForwardingMode ForwardingMode `json:"forwardingMode,omitempty"`
	// RPF enables or disables reverse-path forwarding checks.
	// +kubebuilder:default=enable
	// +optional
	RPF RPFMode `json:"rpf,omitempty"`
}

// VirtualNetworkSpec is the desired state of a VirtualNetwork.
type VirtualNetworkSpec struct {
	CommonSpec `json:",inline"`

	// V4SubnetReference is the network's IPv4 Subnet; in the network's
	// namespace unless it names another (a Subnet may serve several networks).
	// +kubebuilder:validation:XValidation:rule="!has(self.kind) || self.kind == 'Subnet'",message="must reference a Subnet"
	// +optional
	V4SubnetReference *ResourceReference `json:"v4SubnetReference,omitempty"`
	// V6SubnetReference is the network's IPv6 Subnet; in the network's
	// namespace unless it names another.
	// +kubebuilder:validation:XValidation:rule="!has(self.kind) || self.kind == 'Subnet'",message="must reference a Subnet"
	// +optional
	V6SubnetReference *ResourceReference `json:"v6SubnetReference,omitempty"`

	// RouteTargetList are imported and exported by the network's routing instance.
	// +kubebuilder:validation:MaxItems=64
	// +listType=set
	// +optional
	RouteTargetList []RouteTargetString `json:"routeTargetList,omitempty"`
	// ImportRouteTargetList are only imported.
	// +kubebuilder:validation:MaxItems=64
	// +listType=set
	// +optional
	ImportRouteTargetList []RouteTargetString `json:"importRouteTargetList,omitempty"`
	// ExportRouteTargetList are only exported.
	// +kubebuilder:validation:MaxItems=64
	// +listType=set
	// +optional
	ExportRouteTargetList []RouteTargetString `json:"exportRouteTargetList,omitempty"`

	// FabricSNAT source-NATs the network's traffic to the fabric.
	// +kubebuilder:default=false
	// +optional
	FabricSNAT bool `json:"fabricSNAT"`
	// FabricForwarding forwards the network's traffic on the fabric underlay.
	// +kubebuilder:default=false
	// +optional
	FabricForwarding bool `json:"fabricForwarding"`

	// VirtualNetworkProperties are the forwarding properties.
	// +kubebuilder:default={}
	// +optional
	VirtualNetworkProperties VirtualNetworkProperties `json:"virtualNetworkProperties,omitzero"`
}

// VirtualNetworkStatus is the observed state of a VirtualNetwork.
type VirtualNetworkStatus struct {
	CommonStatus `json:",inline"`

	// VirtualNetworkNetworkID is the network's id, unique in the cluster; it
	// is the VXLAN network identifier (VNI) on the dataplane.
	// +optional
	VirtualNetworkNetworkID int64 `json:"virtualNetworkNetworkId,omitempty"`

	// IPFamilies lists the address families of the network's subnets: v4, v6 or v4,v6.
	// +optional
	IPFamilies string `json:"ipFamilies,omitempty"`
}

// VirtualNetwork is a collection of endpoints (interface or IP(s) or MAC(s))
// that can communicate with each other. It is also a collection of subnets
// whose default gateways are connected by an implicit router.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=vn,categories=contrail
// +kubebuilder:printcolumn:name="VNI",type=integer,JSONPath=`.status.virtualNetworkNetworkId`
// +kubebuilder:printcolumn:name="IP Families",type=string,JSONPath=`.status.ipFamilies`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type VirtualNetwork struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// +optional
	Spec VirtualNetworkSpec `json:"spec,omitzero"`
	// +optional
	Status VirtualNetworkStatus `json:"status,omitzero"`
}

// VirtualNetworkList is a list of VirtualNetworks.
//
// +kubebuilder:object:root=true
type VirtualNetworkList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []VirtualNetwork `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &VirtualNetwork{}, &VirtualNetworkList{})
}
