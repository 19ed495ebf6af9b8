package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// IPFamily is an address family: v4 or v6.
// +kubebuilder:validation:Enum=v4;v6
type IPFamily string

const (
	IPFamilyV4 IPFamily = "v4"
	IPFamilyV6 IPFamily = "v6"
)

// InstanceIPSpec is the desired state of an InstanceIP. An address needs
// its instanceIPFamily (defaulted from the address) and stays once set.
//
// +kubebuilder:validation:XValidation:rule="!has(self.instanceIPAddress) || !isIP(self.instanceIPAddress) || (has(self.instanceIPFamily) && (ip(self.instanceIPAddress).family() == 4) == (self.instanceIPFamily == 'v4'))",fieldPath=".instanceIPAddress",message="is not of instanceIPFamily",messageExpression="'\"' + self.instanceIPAddress + '\": ' + (has(self.instanceIPFamily) ? 'is not of instanceIPFamily ' + self.instanceIPFamily : 'needs its instanceIPFamily (v4 or v6)')"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.instanceIPAddress) || has(self.instanceIPAddress)",fieldPath=".instanceIPAddress",message="is immutable once set",messageExpression="'\"\": is immutable once set (was ' + oldSelf.instanceIPAddress + ')'"
type InstanceIPSpec struct {
	CommonSpec `json:",inline"`

	// InstanceIPAddress is the address. Set it to request a static address;
	// left empty, the controller allocates one from the network's subnet and
	// writes it here.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isIP(self)",message="must be an IP address"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="is immutable once set",messageExpression="'is immutable once set (was ' + oldSelf + ')'"
	// +optional
	InstanceIPAddress string `json:"instanceIPAddress,omitempty"`

	// InstanceIPFamily is the address family; defaulted from the address, else v4.
	// +optional
	InstanceIPFamily IPFamily `json:"instanceIPFamily,omitempty"`

	// VirtualNetworkReference is the network the address comes from, by
	// namespace and name. It cannot change.
	// +kubebuilder:validation:XValidation:rule="!has(self.kind) || self.kind == 'VirtualNetwork'",message="must reference a VirtualNetwork"
	// +kubebuilder:validation:XValidation:rule="self.name != ''",fieldPath=".name",reason=FieldValueRequired,message="the VirtualNetwork's name"
	// +kubebuilder:validation:XValidation:rule="has(self.__namespace__) && self.__namespace__ != ''",fieldPath=".namespace",reason=FieldValueRequired,message="an InstanceIP is cluster-scoped: name the VirtualNetwork's namespace"
	// +kubebuilder:validation:XValidation:rule="self.name == oldSelf.name && (has(self.__namespace__) ? self.__namespace__ : '') == (has(oldSelf.__namespace__) ? oldSelf.__namespace__ : '')",message="is immutable",messageExpression="'\"' + (has(self.__namespace__) ? self.__namespace__ : '') + '/' + self.name + '\": is immutable (was ' + (has(oldSelf.__namespace__) ? oldSelf.__namespace__ : '') + '/' + oldSelf.name + ')'"
	// +required
	VirtualNetworkReference ResourceReference `json:"virtualNetworkReference"`

	// VirtualMachineInterfaceReferences are the interfaces that use the address.
	// +kubebuilder:validation:MaxItems=8
	// +optional
	VirtualMachineInterfaceReferences []ResourceReference `json:"virtualMachineInterfaceReferences,omitempty"`
}

// InstanceIPStatus is the observed state of an InstanceIP.
type InstanceIPStatus struct {
	CommonStatus `json:",inline"`

	// SubnetReference is the Subnet the address was allocated from.
	// +optional
	SubnetReference *ResourceReference `json:"subnetReference,omitempty"`

	// Network is the network as <namespace>/<name>, as the NETWORK column shows it.
	// +optional
	Network string `json:"network,omitempty"`
}

// InstanceIP represents an IP address and its configuration used for
// interfaces.
//
// It has no status subresource, as in CN2: the controller writes what it
// allocates, its finalizer and its status in one update, whose new
// generation its observedGeneration names; admission keeps the status of
// anyone else's writes (docs/api.md).
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=iip,categories=contrail
// +kubebuilder:printcolumn:name="IPAddress",type=string,JSONPath=`.spec.instanceIPAddress`
// +kubebuilder:printcolumn:name="Network",type=string,JSONPath=`.status.network`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type InstanceIP struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// +required
	Spec InstanceIPSpec `json:"spec"`
	// +optional
	Status InstanceIPStatus `json:"status,omitzero"`
}

// InstanceIPList is a list of InstanceIPs.
//
// +kubebuilder:object:root=true
type InstanceIPList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []InstanceIP `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &InstanceIP{}, &InstanceIPList{})
}
