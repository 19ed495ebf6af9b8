package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ServerType is the kind of workload a VirtualMachine stands for.
// +kubebuilder:validation:Enum=container;virtual-server;baremetal-server
type ServerType string

const (
	ServerTypeContainer       ServerType = "container"
	ServerTypeVirtualServer   ServerType = "virtual-server"
	ServerTypeBaremetalServer ServerType = "baremetal-server"
)

// VirtualMachineSpec is the desired state of a VirtualMachine.
type VirtualMachineSpec struct {
	CommonSpec `json:",inline"`

	// ServerType is the kind of workload.
	// +kubebuilder:default=container
	// +optional
	ServerType ServerType `json:"serverType,omitempty"`

	// ServerNamespace is the namespace of the workload (the pod's).
	// +kubebuilder:validation:MaxLength=63
	// +optional
	ServerNamespace string `json:"serverNamespace,omitempty"`

	// ServerName is the name of the workload (the pod's).
	// +kubebuilder:validation:MaxLength=253
	// +optional
	ServerName string `json:"serverName,omitempty"`

	// Workload is /<serverNamespace>/<serverName>; defaulted by the apiserver.
	// +kubebuilder:validation:MaxLength=320
	// +optional
	Workload string `json:"workload,omitempty"`
}

// VirtualMachineStatus is the observed state of a VirtualMachine.
type VirtualMachineStatus struct {
	CommonStatus `json:",inline"`
}

// VirtualMachine represents a computational resource, for example, a
// virtual machine, bare metal server, or container.
//
// It has no status subresource, as in CN2: the controller writes what it
// allocates, its finalizer and its status in one update, whose new
// generation its observedGeneration names; admission keeps the status of
// anyone else's writes (docs/api.md).
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=vm,categories=contrail
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.serverType`
// +kubebuilder:printcolumn:name="Workload",type=string,JSONPath=`.spec.workload`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type VirtualMachine struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// +optional
	Spec VirtualMachineSpec `json:"spec,omitzero"`
	// +optional
	Status VirtualMachineStatus `json:"status,omitzero"`
}

// VirtualMachineList is a list of VirtualMachines.
//
// +kubebuilder:object:root=true
type VirtualMachineList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []VirtualMachine `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &VirtualMachine{}, &VirtualMachineList{})
}
