package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MACAddress is a MAC address in the colon-separated form 02:11:8e:c0:2f:e0.
// +kubebuilder:validation:MaxLength=17
// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$')",message="must be a MAC address such as 02:11:8e:c0:2f:e0"
type MACAddress string

// MACAddresses lists the MAC addresses of an interface.
type MACAddresses struct {
	// MACAddress are the interface's MAC addresses; the first is used.
	// +kubebuilder:validation:MaxItems=8
	// +optional
	MACAddress []MACAddress `json:"macAddress,omitempty"`
}

// VirtualMachineInterfaceSpec is the desired state of a VirtualMachineInterface.
type VirtualMachineInterfaceSpec struct {
	CommonSpec `json:",inline"`

	// VirtualNetworkReference is the network the interface is on. It cannot change.
	// +kubebuilder:validation:XValidation:rule="!has(self.kind) || self.kind == 'VirtualNetwork'",message="must reference a VirtualNetwork"
	// +kubebuilder:validation:XValidation:rule="self.name != ''",fieldPath=".name",reason=FieldValueRequired,message="the VirtualNetwork's name"
	// +kubebuilder:validation:XValidation:rule="self.name == oldSelf.name && (has(self.__namespace__) ? self.__namespace__ : '') == (has(oldSelf.__namespace__) ? oldSelf.__namespace__ : '')",message="is immutable",messageExpression="'\"' + (has(self.__namespace__) ? self.__namespace__ : '') + '/' + self.name + '\": is immutable (was ' + (has(oldSelf.__namespace__) ? oldSelf.__namespace__ : '') + '/' + oldSelf.name + ')'"
	// +required
	VirtualNetworkReference ResourceReference `json:"virtualNetworkReference"`

	// VirtualMachineReferences are the VirtualMachines the interface belongs to.
	// +kubebuilder:validation:MaxItems=8
	// +optional
	VirtualMachineReferences []ResourceReference `json:"virtualMachineReferences,omitempty"`

	// VirtualMachineInterfaceMacAddresses holds the interface's MAC address:
	// requested by the user, or allocated by the controller when empty.
	// +optional
	VirtualMachineInterfaceMacAddresses MACAddresses `json:"virtualMachineInterfaceMacAddresses,omitzero"`

	// ClusterName is the Kubernetes cluster (kubemanager) the interface belongs to.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	ClusterName string `json:"clusterName,omitempty"`

	// PodName is the pod the interface is plugged into.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	PodName string `json:"podName,omitempty"`

	// InterfaceName is the interface's name in the pod (eth0, eth1, ...).
	// +kubebuilder:validation:MaxLength=15
	// +kubebuilder:validation:XValidation:rule="self.matches('^[^/:\\\\s]+$') && self != '.' && self != '..'",message="must be a Linux interface name: at most 15 characters, no '/', ':' or white space"
	// +optional
	InterfaceName string `json:"interfaceName,omitempty"`
}

// VirtualMachineInterfaceStatus is the observed state of a VirtualMachineInterface.
type VirtualMachineInterfaceStatus struct {
	CommonStatus `json:",inline"`
}

// VirtualMachineInterface represents an interface(port) into virtual
// network. It may or may not have corresponding virtual machine. A virtual
// machine interface has at least a MAC address and an IP address.
//
// It has no status subresource, as in CN2: the controller writes what it
// allocates, its finalizer and its status in one update, whose new
// generation its observedGeneration names; admission keeps the status of
// anyone else's writes (docs/api.md).
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=vmi,categories=contrail
// +kubebuilder:printcolumn:name="ClusterName",type=string,JSONPath=`.spec.clusterName`
// +kubebuilder:printcolumn:name="Network",type=string,JSONPath=`.spec.virtualNetworkReference.name`
// +kubebuilder:printcolumn:name="PodName",type=string,JSONPath=`.spec.podName`
// +kubebuilder:printcolumn:name="IfcName",type=string,JSONPath=`.spec.interfaceName`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type VirtualMachineInterface struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// +required
	Spec VirtualMachineInterfaceSpec `json:"spec"`
	// +optional
	Status VirtualMachineInterfaceStatus `json:"status,omitzero"`
}

// VirtualMachineInterfaceList is a list of VirtualMachineInterfaces.
//
// +kubebuilder:object:root=true
type VirtualMachineInterfaceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []VirtualMachineInterface `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &VirtualMachineInterface{}, &VirtualMachineInterfaceList{})
}
