package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SubnetSpec is the desired state of a Subnet.
//
// +kubebuilder:validation:XValidation:rule="!has(self.defaultGateway) || !isCIDR(self.cidr) || !isIP(self.defaultGateway) || cidr(self.cidr).containsIP(self.defaultGateway)",message="defaultGateway must be inside cidr"
// +kubebuilder:validation:XValidation:rule="!has(self.defaultGateway) || !has(self.disableDefaultGateway) || !self.disableDefaultGateway",message="defaultGateway must be empty when disableDefaultGateway is true"
// +kubebuilder:validation:XValidation:rule="!has(self.defaultGateway) || !isCIDR(self.cidr) || cidr(self.cidr).ip().family() != 4 || cidr(self.cidr).prefixLength() <= 30",message="an IPv4 cidr with a defaultGateway must be /30 or shorter: a longer prefix leaves no address for an interface"
type SubnetSpec struct {
	CommonSpec `json:",inline"`

	// CIDR is the block of addresses, e.g. 172.16.10.0/24 or fd00:10::/64.
	// It is the network address (no host bits set) and cannot change.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isCIDR(self)",message="must be a CIDR such as 172.16.10.0/24 or fd00:10::/64"
	// +kubebuilder:validation:XValidation:rule="!isCIDR(self) || cidr(self) == cidr(self).masked()",message="must be the network address of the block (no host bits set)"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="is immutable"
	// +required
	CIDR string `json:"cidr"`

	// DefaultGateway is the gateway address of the subnet, reserved from
	// allocation. Defaulted to the first host address.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isIP(self)",message="must be an IP address"
	// +optional
	DefaultGateway string `json:"defaultGateway,omitempty"`

	// DisableDefaultGateway leaves the subnet without a gateway: no address
	// is defaulted or reserved for one. For subnets of virtual addresses,
	// such as the service network's, whose first address Kubernetes gives
	// to the kubernetes Service.
	// +optional
	DisableDefaultGateway bool `json:"disableDefaultGateway,omitempty"`

	// DNSNameservers are handed to the interfaces on the subnet.
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:items:XValidation:rule="isIP(self)",message="must be an IP address"
	// +optional
	DNSNameservers []string `json:"dnsNameservers,omitempty"`
}

// SubnetStatus is the observed state of a Subnet.
type SubnetStatus struct {
	CommonStatus `json:",inline"`

	// IPCount is the number of addresses in use, the reserved ones (network,
	// gateway, broadcast) included.
	// +optional
	IPCount int64 `json:"ipCount,omitempty"`

	// AllocationUsage is IPCount as a percentage of the block, e.g. "1.56%".
	// +optional
	AllocationUsage string `json:"allocationUsage,omitempty"`
}

// Subnet represents a block of IP addresses and its configuration. IPAM
// allocates and releases IP address from that block on demand. It can be
// used by different VirtualNetwork in the mean time.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=sn,categories=contrail
// +kubebuilder:printcolumn:name="CIDR",type=string,JSONPath=`.spec.cidr`
// +kubebuilder:printcolumn:name="Usage",type=string,JSONPath=`.status.allocationUsage`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Subnet struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// +required
	Spec SubnetSpec `json:"spec"`
	// +optional
	Status SubnetStatus `json:"status,omitzero"`
}

// SubnetList is a list of Subnets.
//
// +kubebuilder:object:root=true
type SubnetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []Subnet `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &Subnet{}, &SubnetList{})
}
