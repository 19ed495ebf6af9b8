// Package v1alpha1 holds the types the deployment resources of Kontrail
// (configplane.juniper.net, dataplane.juniper.net) share, with CN2's field
// names so that CN2 manifests apply unchanged.
//
// +kubebuilder:object:generate=true
package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Container overrides a component container's image and command.
type Container struct {
	// Name of the container to override.
	// +required
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Image replaces the container's image.
	// +optional
	Image string `json:"image,omitempty"`
	// Command replaces the container's entrypoint.
	// +optional
	Command []string `json:"command,omitempty"`
	// Args replaces the container's arguments.
	// +optional
	Args []string `json:"args,omitempty"`
	// Resources replaces the container's resource requests and limits.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`
}

// Common is CN2's spec.common: how a component's pods are run.
type Common struct {
	// Containers override the component's containers by name.
	// +optional
	// +listType=map
	// +listMapKey=name
	Containers []Container `json:"containers,omitempty"`
	// NodeSelector constrains the pods to nodes with these labels.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// Affinity of the pods.
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`
	// Tolerations of the pods.
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
	// Replicas of a Deployment-backed component; ignored by DaemonSets.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Replicas *int32 `json:"replicas,omitempty"`
	// ServiceAccountName replaces the service account the operator makes.
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
	// ImagePullSecrets are the names of Secrets to pull the images with.
	// +optional
	ImagePullSecrets []string `json:"imagePullSecrets,omitempty"`
	// PodAnnotations are added to the pods.
	// +optional
	PodAnnotations map[string]string `json:"podAnnotations,omitempty"`
	// PriorityClassName of the pods.
	// +optional
	PriorityClassName string `json:"priorityClassName,omitempty"`
}

// LogLevel is a component's log verbosity.
// +kubebuilder:validation:Enum=debug;info;warn;error
type LogLevel string

// ComponentSpec is what every deployment resource's spec carries.
type ComponentSpec struct {
	// Common says how the component's pods run.
	// +optional
	Common Common `json:"common,omitzero"`
	// LogLevel of the component.
	// +optional
	// +kubebuilder:default=info
	LogLevel LogLevel `json:"logLevel,omitempty"`
	// Pause stops the operator from changing the component's workload, for
	// maintenance by hand; drift is then left alone.
	// +optional
	Pause bool `json:"pause,omitempty"`
}

// Condition types of the deployment resources.
const (
	// ConditionAvailable: the component's workload is ready.
	ConditionAvailable = "Available"
	// ConditionProgressing: the workload is being rolled out or waits on another component.
	ConditionProgressing = "Progressing"
	// ConditionDegraded: the component cannot reach or keep its desired state; the reason says why.
	ConditionDegraded = "Degraded"
)

// ComponentStatus is what every deployment resource's status carries.
type ComponentStatus struct {
	// ObservedGeneration is the metadata.generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Available, Progressing, Degraded.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Version is the component version running.
	// +optional
	Version string `json:"version,omitempty"`
}
