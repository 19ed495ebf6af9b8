package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// VirtualRouterSpec is the desired state of a VirtualRouter.
type VirtualRouterSpec struct {
	CommonSpec `json:",inline"`

	// Parent is the GlobalSystemConfig the router belongs to.
	// +optional
	Parent *ResourceReference `json:"parent,omitempty"`

	// VirtualRouterIPAddress is the node's fabric address: where other
	// nodes send the overlay traffic for the pods on this node.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isIP(self)",message="must be an IP address"
	// +required
	VirtualRouterIPAddress string `json:"virtualRouterIPAddress"`

	// VirtualMachineReferences are the workloads on the node.
	// +optional
	VirtualMachineReferences []ResourceReference `json:"virtualMachineReferences,omitempty"`
}

// VirtualRouterStatus is the observed state of a VirtualRouter.
type VirtualRouterStatus struct {
	CommonStatus `json:",inline"`

	// Endpoints are the pod interfaces plugged on the node, as its vrouter
	// agent reports them: the other nodes' agents forward to this node's
	// address what is for these MACs (a Kontrail extension; CN2's agents
	// learn them over XMPP from the control node).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=4096
	Endpoints []Endpoint `json:"endpoints,omitempty"`
}

// Endpoint is a pod interface plugged on a node.
type Endpoint struct {
	// Network is the VirtualNetwork's namespace/name.
	// +kubebuilder:validation:MaxLength=317
	Network string `json:"network"`
	// VirtualMachineInterface is the interface's namespace/name.
	// +kubebuilder:validation:MaxLength=317
	// +optional
	VirtualMachineInterface string `json:"virtualMachineInterface,omitempty"`
	// MAC of the interface.
	// +kubebuilder:validation:MaxLength=17
	MAC string `json:"mac"`
	// IPs of the interface.
	// +kubebuilder:validation:MaxItems=8
	// +listType=atomic
	// +optional
	IPs []string `json:"ips,omitempty"`
}

// VirtualRouter is packet forwarding system on devices such as compute
// nodes(servers), TOR(s), routers.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=vr,categories=contrail
// +kubebuilder:printcolumn:name="IP",type=string,JSONPath=`.spec.virtualRouterIPAddress`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type VirtualRouter struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// +required
	Spec VirtualRouterSpec `json:"spec"`
	// +optional
	Status VirtualRouterStatus `json:"status,omitzero"`
}

// VirtualRouterList is a list of VirtualRouters.
//
// +kubebuilder:object:root=true
type VirtualRouterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []VirtualRouter `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &VirtualRouter{}, &VirtualRouterList{})
}
