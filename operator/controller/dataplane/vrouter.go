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

// StateDir is the node's directory of the agent's state (the agent's
// --state-dir default): under /var/run, so a reboot, which takes the pods'
// interfaces away, takes it too.
const StateDir = "/var/run/kontrail/vrouter"

// SocketDir is the node's directory of the CNI plugin's socket
// (agentapi.DefaultSocketDir): the agent makes it root's alone.
const SocketDir = "/var/run/kontrail/cni"

// Reasons of the Vrouter's conditions.
const (
	ReasonWaitingForController = "WaitingForController"
)

// +kubebuilder:rbac:groups=dataplane.juniper.net,resources=vrouters,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=dataplane.juniper.net,resources=vrouters/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=dataplane.juniper.net,resources=vrouters/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=daemonsets,verbs=get;list;watch;create;update;patch;delete

// SetupWithManager registers the Vrouter reconciler.
func SetupWithManager(mgr manager.Manager, image, version string) error {
	c := mgr.GetClient()
	rules, err := components.Rules("vrouter")
	if err != nil {
		return err
	}
	return (&component.Reconciler[*dataplanev1alpha1.Vrouter]{Client: c, Kind: "Vrouter", Version: version,
		NewObject: func() *dataplanev1alpha1.Vrouter { return &dataplanev1alpha1.Vrouter{} },
		Prerequisite: func(ctx context.Context, _ *dataplanev1alpha1.Vrouter) (*component.Blocked, error) {
			return waitForController(ctx, c)
		},
		Render: func(_ context.Context, v *dataplanev1alpha1.Vrouter) (*component.Workload, error) {
			return agentWorkload(v, image), nil
		},
		Rules:   rules,
		Policy:  component.AgentPolicy,
		Watches: []client.Object{&configplanev1alpha1.Controller{}},
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
			"--cni-version=" + s.CNI.CNIVersion,
			"--state-dir=" + StateDir,
			"--socket-dir=" + SocketDir,
		}}
	dirOrCreate := ptr.To(corev1.HostPathDirectoryOrCreate)
	// The ports the agent plumbed outlive its container (an upgrade, a
	// crash): it keeps them on the node, in a directory per node.
	// The plugin, run by the node's runtime, finds the agent's socket there.
	w.Volumes = []corev1.Volume{{Name: "state", VolumeSource: corev1.VolumeSource{
		HostPath: &corev1.HostPathVolumeSource{Path: StateDir, Type: dirOrCreate}}},
		{Name: "cni-socket", VolumeSource: corev1.VolumeSource{
			HostPath: &corev1.HostPathVolumeSource{Path: SocketDir, Type: dirOrCreate}}}}
	w.Mounts = []corev1.VolumeMount{{Name: "state", MountPath: StateDir}, {Name: "cni-socket", MountPath: SocketDir}}
	if install {
		w.Volumes = append(w.Volumes,
			corev1.Volume{Name: "cni-bin", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: s.CNI.BinPath, Type: dirOrCreate}}},
			corev1.Volume{Name: "cni-conf", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: s.CNI.ConfigPath, Type: dirOrCreate}}})
		w.Mounts = append(w.Mounts, corev1.VolumeMount{Name: "cni-bin", MountPath: s.CNI.BinPath},
			corev1.VolumeMount{Name: "cni-conf", MountPath: s.CNI.ConfigPath})
	}
	return w
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
