package v1alpha1

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AllocationType is what an Allocation holds.
// +kubebuilder:validation:Enum=Address;MAC;VNI
type AllocationType string

const (
	// AllocationAddress: an address of a Subnet, held by an InstanceIP.
	AllocationAddress AllocationType = "Address"
	// AllocationMAC: a MAC, unique in the cluster, held by a VirtualMachineInterface.
	AllocationMAC AllocationType = "MAC"
	// AllocationVNI: a virtual network identifier, unique in the cluster,
	// held by a VirtualNetwork.
	AllocationVNI AllocationType = "VNI"
)

// AllocationSpec is what is allocated, and to whom. It cannot change.
//
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="is immutable"
// +kubebuilder:validation:XValidation:rule="self.type != 'Address' || has(self.subnetReference)",message="an Address names its subnetReference"
type AllocationSpec struct {
	// Type is what is allocated.
	// +required
	Type AllocationType `json:"type"`

	// Value is the allocated value: an IP address, a MAC (02:00:00:00:00:01)
	// or a number.
	// +kubebuilder:validation:MaxLength=64
	// +required
	Value string `json:"value"`

	// SubnetReference is the Subnet an Address comes from.
	// +optional
	SubnetReference *ResourceReference `json:"subnetReference,omitempty"`

	// HolderReference is the object that holds the value (with its UID): the
	// controller deletes the Allocation when, and only when, it deletes
	// that object's finalizer.
	// +required
	HolderReference ResourceReference `json:"holderReference"`
}

// Allocation is the lock on one allocated value: an address of a Subnet,
// a MAC or a VNI. Its name is the value (AllocationName), so that the
// apiserver refuses a second holder: the controller allocates a value by
// creating its Allocation, and a create that finds one held by another
// object moves on to another value. It is Kontrail's, not CN2's
// (docs/architecture.md, "Who holds an address").
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=alloc,categories=contrail
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Value",type=string,JSONPath=`.spec.value`
// +kubebuilder:printcolumn:name="Holder Kind",type=string,JSONPath=`.spec.holderReference.kind`
// +kubebuilder:printcolumn:name="Holder",type=string,JSONPath=`.spec.holderReference.name`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Allocation struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// +required
	Spec AllocationSpec `json:"spec"`
}

// AllocationList is a list of Allocations.
//
// +kubebuilder:object:root=true
type AllocationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []Allocation `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &Allocation{}, &AllocationList{})
}

// AddressAllocationName is the name of the Allocation of addr in the Subnet
// namespace/name: address.<namespace>.<subnet>.<address>, an IPv6
// address's colons as dashes; a name longer than an object name may be is
// address.<sha256 of it>.
func AddressAllocationName(namespace, subnet string, addr netip.Addr) string {
	return allocationName("address", namespace+"."+subnet+"."+strings.ReplaceAll(addr.String(), ":", "-"))
}

// MACAllocationName is the name of the Allocation of a MAC: mac.<02-00-...>.
func MACAllocationName(mac string) string {
	return allocationName("mac", strings.ReplaceAll(strings.ToLower(mac), ":", "-"))
}

// VNIAllocationName is the name of the Allocation of a VNI: vni.<n>.
func VNIAllocationName(vni uint64) string {
	return allocationName("vni", fmt.Sprint(vni))
}

func allocationName(prefix, key string) string {
	name := prefix + "." + key
	if len(name) <= 253 {
		return name
	}
	sum := sha256.Sum256([]byte(key))
	return prefix + "." + hex.EncodeToString(sum[:])
}
