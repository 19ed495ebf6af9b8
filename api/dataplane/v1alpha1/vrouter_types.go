package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	commonv1alpha1 "github.com/kontrail/kontrail/api/common/v1alpha1"
)

// AgentDefault holds the agent's own settings (CN2's agent.default).
type AgentDefault struct {
	// RestPort of the agent's local API (CN2: 9091); the CNI plugin talks to
	// the agent on a unix socket, and this port serves metrics and health.
	// +optional
	// +kubebuilder:default=9091
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	RestPort int32 `json:"restPort,omitempty"`
}

// VirtualHostInterface is the node's fabric interface.
type VirtualHostInterface struct {
	// PhysicalInterface carries the overlay; empty means the node's
	// interface of its InternalIP.
	// +optional
	// +kubebuilder:validation:MaxLength=15
	PhysicalInterface string `json:"physicalInterface,omitempty"`
}

// Agent configures the node agent.
type Agent struct {
	// +optional
	// +kubebuilder:default={}
	Default AgentDefault `json:"default,omitzero"`
	// +optional
	VirtualHostInterface VirtualHostInterface `json:"virtualHostInterface,omitzero"`
}

// CNI configures the CNI plugin the agent installs on each node.
type CNI struct {
	// ClusterName names the cluster in the CNI config.
	// +optional
	ClusterName string `json:"clusterName,omitempty"`
	// ConfigPath is the node's CNI configuration directory.
	// +optional
	// +kubebuilder:default=/etc/cni/net.d
	ConfigPath string `json:"configPath,omitempty"`
	// BinPath is the node's CNI plugin directory.
	// +optional
	// +kubebuilder:default=/opt/cni/bin
	BinPath string `json:"binPath,omitempty"`
	// MTU of the pods' interfaces; 0 derives it from the fabric's.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=9216
	MTU int32 `json:"mtu,omitempty"`
	// CNIVersion is the conflist's cniVersion; the container runtime's
	// libcni must support it: containerd 1.6 and 1.7 stop at 1.0.0, and
	// 1.1.0 (containerd 2) adds STATUS and GC.
	// +optional
	// +kubebuilder:default="1.0.0"
	// +kubebuilder:validation:Enum="1.0.0";"1.1.0"
	CNIVersion string `json:"cniVersion,omitempty"`
	// VifType is the kind of pod interface; Kontrail plugs veth pairs.
	// +optional
	// +kubebuilder:default=veth
	// +kubebuilder:validation:Enum=veth
	VifType string `json:"vifType,omitempty"`
}

// VrouterSpec is the desired state of the node agents.
type VrouterSpec struct {
	commonv1alpha1.ComponentSpec `json:",inline"`

	// +optional
	// +kubebuilder:default={}
	Agent Agent `json:"agent,omitzero"`
	// +optional
	// +kubebuilder:default={}
	CNI CNI `json:"cni,omitzero"`
	// InstallCni installs the plugin and its config on each node.
	// +optional
	// +kubebuilder:default=true
	InstallCni *bool `json:"installCni,omitempty"`
	// MaxUnavailablePercentage bounds the nodes whose agent restarts at once
	// during a rolling upgrade.
	// +optional
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	MaxUnavailablePercentage int32 `json:"maxUnavailablePercentage,omitempty"`
	// VxlanPort is the overlay's UDP port.
	// +optional
	// +kubebuilder:default=4789
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	VxlanPort int32 `json:"vxlanPort,omitempty"`
}

// Vrouter runs the node agent and installs the CNI plugin on every node.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=kontrail
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Available")].status`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.version`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Vrouter struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitzero"`
	// +optional
	// +kubebuilder:default={}
	Spec VrouterSpec `json:"spec,omitzero"`
	// +optional
	Status commonv1alpha1.ComponentStatus `json:"status,omitzero"`
}

// VrouterList is a list of Vrouters.
// +kubebuilder:object:root=true
type VrouterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []Vrouter `json:"items"`
}

// GetComponentSpec returns the spec fields every deployment resource shares.
func (o *Vrouter) GetComponentSpec() *commonv1alpha1.ComponentSpec { return &o.Spec.ComponentSpec }

// GetComponentStatus returns the status every deployment resource has.
func (o *Vrouter) GetComponentStatus() *commonv1alpha1.ComponentStatus { return &o.Status }
