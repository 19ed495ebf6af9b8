// Package dataplane holds the operator's reconciler of the
// dataplane.juniper.net Vrouter: the node agent's DaemonSet.
package dataplane

import (
	"context"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	commonv1alpha1 "github.com/kontrail/kontrail/api/common/v1alpha1"
	configplanev1alpha1 "github.com/kontrail/kontrail/api/configplane/v1alpha1"
	dataplanev1alpha1 "github.com/kontrail/kontrail/api/dataplane/v1alpha1"
	"github.com/kontrail/kontrail/config/components"
	"github.com/kontrail/kontrail/operator/controller/component"
)

// AgentContainer is the name of the agent's container, as CN2's.
const AgentContainer = "contrail-vrouter-agent"

// Reasons of the Vrouter's conditions.
const (
	ReasonWaitingForController = "WaitingForController"
	// ReasonNamespaceNotPrivileged: the namespace's Pod Security level
	// forbids the agent's privileged pods.
	ReasonNamespaceNotPrivileged = "NamespaceNotPrivileged"
)

// LabelPodSecurityEnforce is Pod Security admission's enforce label.
const LabelPodSecurityEnforce = "pod-security.kubernetes.io/enforce"

// +kubebuilder:rbac:groups=dataplane.juniper.net,resources=vrouters,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=dataplane.juniper.net,resources=vrouters/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=dataplane.juniper.net,resources=vrouters/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=daemonsets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch

// SetupWithManager registers the Vrouter reconciler.
func SetupWithManager(mgr manager.Manager, image, version string) error {
	c := mgr.GetClient()
	rules, err := components.Rules("vrouter")
	if err != nil {
		return err
	}
	return (&component.Reconciler[*dataplanev1alpha1.Vrouter]{Client: c, Kind: "Vrouter", Version: version,
		NewObject: func() *dataplanev1alpha1.Vrouter { return &dataplanev1alpha1.Vrouter{} },
		Prerequisite: func(ctx context.Context, v *dataplanev1alpha1.Vrouter) (*component.Blocked, error) {
			if b, err := privilegedNamespace(ctx, c, v.Namespace); b != nil || err != nil {
				return b, err
			}
			return waitForController(ctx, c)
		},
		Render: func(_ context.Context, v *dataplanev1alpha1.Vrouter) (*component.Workload, error) {
			return agentWorkload(v, image), nil
		},
		Rules:   rules,
		Watches: []client.Object{&configplanev1alpha1.Controller{}, &corev1.Namespace{}},
	}).SetupWithManager(mgr)
}

// agentWorkload is the agent's DaemonSet. The agent's flags are its
// contract with the operator (vrouter/agent.Config).
func agentWorkload(v *dataplanev1alpha1.Vrouter, image string) *component.Workload {
	s := v.Spec
	install := s.InstallCni == nil || *s.InstallCni
	port := s.Agent.Default.RestPort
	if port == 0 {
		port = 9091
	}
	w := &component.Workload{Owner: v, Name: v.Name, Component: "vrouter", ContainerName: AgentContainer,
		Binary: "kontrail-vrouter-agent", Image: image, DaemonSet: true,
		MaxUnavailable: intstr.FromString(strconv.Itoa(int(s.MaxUnavailablePercentage)) + "%"),
		MetricsPort:    port, HealthPort: port + 1,
		Env: []corev1.EnvVar{{Name: "NODE_NAME", ValueFrom: &corev1.EnvVarSource{
			FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "spec.nodeName"}}}},
		Args: []string{
			"--fabric-interface=" + s.Agent.VirtualHostInterface.PhysicalInterface,
			"--vxlan-port=" + strconv.Itoa(int(s.VxlanPort)),
			"--install-cni=" + strconv.FormatBool(install),
			"--cni-bin-dir=" + s.CNI.BinPath,
			"--cni-conf-dir=" + s.CNI.ConfigPath,
			"--cni-cluster-name=" + s.CNI.ClusterName,
			"--cni-mtu=" + strconv.Itoa(int(s.CNI.MTU)),
		}}
	if install {
		dirOrCreate := ptr.To(corev1.HostPathDirectoryOrCreate)
		w.Volumes = []corev1.Volume{
			{Name: "cni-bin", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: s.CNI.BinPath, Type: dirOrCreate}}},
			{Name: "cni-conf", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: s.CNI.ConfigPath, Type: dirOrCreate}}},
		}
		w.Mounts = []corev1.VolumeMount{{Name: "cni-bin", MountPath: s.CNI.BinPath}, {Name: "cni-conf", MountPath: s.CNI.ConfigPath}}
	}
	return w
}

// privilegedNamespace refuses a namespace whose Pod Security level would
// reject the agent's privileged pods: the DaemonSet would never get a pod,
// and the reason would only show in its events.
func privilegedNamespace(ctx context.Context, c client.Client, name string) (*component.Blocked, error) {
	var ns corev1.Namespace
	if err := c.Get(ctx, client.ObjectKey{Name: name}, &ns); err != nil {
		return nil, fmt.Errorf("failed to get namespace %s: %w", name, err)
	}
	level, set := ns.Labels[LabelPodSecurityEnforce]
	if !set || level == "privileged" {
		return nil, nil
	}
	return &component.Blocked{Reason: ReasonNamespaceNotPrivileged, Degraded: true,
		Message: fmt.Sprintf("namespace %s enforces Pod Security level %q, and the vrouter agent runs privileged pods: run it in a namespace labelled %s=privileged",
			name, level, LabelPodSecurityEnforce)}, nil
}

// waitForController holds the agents back until a Controller is Available.
func waitForController(ctx context.Context, c client.Client) (*component.Blocked, error) {
	var list configplanev1alpha1.ControllerList
	if err := c.List(ctx, &list); err != nil {
		return nil, fmt.Errorf("failed to list Controllers: %w", err)
	}
	for i := range list.Items {
		if meta.IsStatusConditionTrue(list.Items[i].Status.Conditions, commonv1alpha1.ConditionAvailable) {
			return nil, nil
		}
	}
	return &component.Blocked{Reason: ReasonWaitingForController, Message: "waiting for a Controller to be Available"}, nil
}
