package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	commonv1alpha1 "github.com/kontrail/kontrail/api/common/v1alpha1"
)

// ApiServerSpec is the desired state of the apiserver component.
type ApiServerSpec struct { //nolint:revive // CN2's kind name
	commonv1alpha1.ComponentSpec `json:",inline"`

	// AutonomousSystem of the cluster's BGP route targets.
	// +optional
	// +kubebuilder:default=64512
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=4294967295
	AutonomousSystem int64 `json:"autonomousSystem,omitempty"`
	// EnableFourByteAs allows an AS above 65535.
	// +optional
	EnableFourByteAs bool `json:"enableFourByteAs,omitempty"`
	// ListenerPort the webhook server listens on.
	// +optional
	// +kubebuilder:default=9443
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	ListenerPort int32 `json:"listenerPort,omitempty"`
	// DefaultNamespace the component runs in.
	// +optional
	DefaultNamespace string `json:"defaultNamespace,omitempty"`
}

// ControllerSpec is the desired state of the controller component.
type ControllerSpec struct {
	commonv1alpha1.ComponentSpec `json:",inline"`

	// DefaultNamespace the component runs in.
	// +optional
	DefaultNamespace string `json:"defaultNamespace,omitempty"`
	// Workers is the number of reconciles each reconciler runs at once.
	// +optional
	// +kubebuilder:default=8
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=256
	Workers int32 `json:"workers,omitempty"`
	// ClientQPS and ClientBurst bound the component's Kubernetes client.
	// +optional
	// +kubebuilder:default=200
	// +kubebuilder:validation:Minimum=1
	ClientQPS int32 `json:"clientQPS,omitempty"`
	// +optional
	// +kubebuilder:default=400
	// +kubebuilder:validation:Minimum=1
	ClientBurst int32 `json:"clientBurst,omitempty"`
}

// CrossNamespaceNetworks says whose networks a namespace may use.
type CrossNamespaceNetworks struct {
	// Policy is Allow (CN2's behaviour): a pod may attach to a NAD of any
	// namespace ("<namespace>/<nad>"), and a NAD may map onto a
	// VirtualNetwork of any namespace (opencontrail.org/network); or Deny:
	// only to those of its own namespace and of SharedNamespaces. In every
	// case the service network and the networks of an isolated namespace
	// are never used from another namespace.
	// +optional
	// +kubebuilder:default=Allow
	// +kubebuilder:validation:Enum=Allow;Deny
	Policy string `json:"policy,omitempty"`
	// SharedNamespaces, with Deny, are the namespaces whose NADs and
	// VirtualNetworks every namespace may use.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +listType=set
	SharedNamespaces []string `json:"sharedNamespaces,omitempty"`
}

// IsolateNamespaces is CN2's namespace isolation setting.
type IsolateNamespaces struct {
	// Enable isolates every namespace but the exceptions.
	// +optional
	Enable bool `json:"enable,omitempty"`
	// DefaultForwardingMode of the isolated namespaces' pod networks.
	// +optional
	// +kubebuilder:validation:Enum=fabric-snat;ip-fabric
	DefaultForwardingMode string `json:"defaultForwardingMode,omitempty"`
	// ExceptionList names namespaces that are not isolated.
	// +optional
	ExceptionList []string `json:"exceptionList,omitempty"`
}

// ExternalNetworkSelector selects the networks, and namespaces, a service
// of the selector's name may expose on.
type ExternalNetworkSelector struct {
	// +optional
	NetworkSelector *metav1.LabelSelector `json:"networkSelector,omitempty"`
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
}

// KubemanagerSpec is the desired state of the kubemanager component.
// +kubebuilder:validation:XValidation:rule="has(self.podV4Subnet) || has(self.podV6Subnet)",message="the pod network needs podV4Subnet or podV6Subnet"
type KubemanagerSpec struct {
	commonv1alpha1.ComponentSpec `json:",inline"`

	// ClusterName names this cluster in Contrail objects (KUBEMANAGER_CLUSTER_NAME).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	ClusterName string `json:"clusterName"`
	// PodV4Subnet and PodV6Subnet are the default pod network's CIDRs.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isCIDR(self) && cidr(self).ip().family() == 4",message="must be an IPv4 CIDR such as 10.244.0.0/16"
	PodV4Subnet string `json:"podV4Subnet,omitempty"`
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isCIDR(self) && cidr(self).ip().family() == 6",message="must be an IPv6 CIDR such as fd00:10:244::/56"
	PodV6Subnet string `json:"podV6Subnet,omitempty"`
	// ServiceV4Subnet and ServiceV6Subnet are the cluster's service CIDRs.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isCIDR(self) && cidr(self).ip().family() == 4",message="must be an IPv4 CIDR such as 10.96.0.0/12"
	ServiceV4Subnet string `json:"serviceV4Subnet,omitempty"`
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isCIDR(self) && cidr(self).ip().family() == 6",message="must be an IPv6 CIDR"
	ServiceV6Subnet string `json:"serviceV6Subnet,omitempty"`
	// EnableNad handles NetworkAttachmentDefinitions (KUBEMANAGER_ENABLE_NAD).
	// +optional
	// +kubebuilder:default=true
	EnableNad *bool `json:"enableNad,omitempty"`
	// IsolateNamespaces is CN2's namespace isolation.
	// +optional
	IsolateNamespaces *IsolateNamespaces `json:"isolateNamespaces,omitempty"`
	// CrossNamespaceNetworks says which namespaces' networks a namespace's
	// pods and NADs may use (KUBEMANAGER_CROSS_NAMESPACE_NETWORKS,
	// KUBEMANAGER_SHARED_NAMESPACES); Allow, CN2's behaviour, by default.
	// +optional
	CrossNamespaceNetworks *CrossNamespaceNetworks `json:"crossNamespaceNetworks,omitempty"`
	// AutonomousSystem of the cluster's route targets.
	// +optional
	// +kubebuilder:default=64512
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=4294967295
	AutonomousSystem int64 `json:"autonomousSystem,omitempty"`
	// ConstantRouteTargetNumber, when set, is the route-target number of the cluster's default networks.
	// +optional
	// +kubebuilder:validation:Minimum=1
	ConstantRouteTargetNumber int64 `json:"constantRouteTargetNumber,omitempty"`
	// ExternalNetworkSelectors, by name (KUBEMANAGER_EXTERNAL_NETWORK_SELECTORS).
	// +optional
	ExternalNetworkSelectors map[string]ExternalNetworkSelector `json:"externalNetworkSelectors,omitempty"`
	// Workers is the number of reconciles each reconciler runs at once.
	// +optional
	// +kubebuilder:default=8
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=256
	Workers int32 `json:"workers,omitempty"`
	// ClientQPS and ClientBurst bound the component's Kubernetes client.
	// +optional
	// +kubebuilder:default=200
	// +kubebuilder:validation:Minimum=1
	ClientQPS int32 `json:"clientQPS,omitempty"`
	// +optional
	// +kubebuilder:default=400
	// +kubebuilder:validation:Minimum=1
	ClientBurst int32 `json:"clientBurst,omitempty"`
}

// ApiServer runs the apiserver component: admission of the core API.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=kontrail
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Available")].status`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.version`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ApiServer struct { //nolint:revive // CN2's kind name
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitzero"`
	// +optional
	// +kubebuilder:default={}
	Spec ApiServerSpec `json:"spec,omitzero"`
	// +optional
	Status commonv1alpha1.ComponentStatus `json:"status,omitzero"`
}

// ApiServerList is a list of ApiServers.
// +kubebuilder:object:root=true
type ApiServerList struct { //nolint:revive // CN2's kind name
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []ApiServer `json:"items"`
}

// Controller runs the controller component: allocation of network ids,
// route targets, addresses and MACs.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=kontrail
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Available")].status`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.version`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Controller struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitzero"`
	// +optional
	// +kubebuilder:default={}
	Spec ControllerSpec `json:"spec,omitzero"`
	// +optional
	Status commonv1alpha1.ComponentStatus `json:"status,omitzero"`
}

// ControllerList is a list of Controllers.
// +kubebuilder:object:root=true
type ControllerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []Controller `json:"items"`
}

// Kubemanager runs the kubemanager component: Kubernetes objects to
// Contrail ones.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=kontrail
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Available")].status`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.version`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Kubemanager struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitzero"`
	// +required
	Spec KubemanagerSpec `json:"spec"`
	// +optional
	Status commonv1alpha1.ComponentStatus `json:"status,omitzero"`
}

// KubemanagerList is a list of Kubemanagers.
// +kubebuilder:object:root=true
type KubemanagerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []Kubemanager `json:"items"`
}

// GetComponentSpec returns the spec fields every deployment resource shares.
func (o *ApiServer) GetComponentSpec() *commonv1alpha1.ComponentSpec { return &o.Spec.ComponentSpec }

// GetComponentStatus returns the status every deployment resource has.
func (o *ApiServer) GetComponentStatus() *commonv1alpha1.ComponentStatus { return &o.Status }

// GetComponentSpec returns the spec fields every deployment resource shares.
func (o *Controller) GetComponentSpec() *commonv1alpha1.ComponentSpec { return &o.Spec.ComponentSpec }

// GetComponentStatus returns the status every deployment resource has.
func (o *Controller) GetComponentStatus() *commonv1alpha1.ComponentStatus { return &o.Status }

// GetComponentSpec returns the spec fields every deployment resource shares.
func (o *Kubemanager) GetComponentSpec() *commonv1alpha1.ComponentSpec { return &o.Spec.ComponentSpec }

// GetComponentStatus returns the status every deployment resource has.
func (o *Kubemanager) GetComponentStatus() *commonv1alpha1.ComponentStatus { return &o.Status }
