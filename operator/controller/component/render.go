package component

import (
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	commonv1alpha1 "github.com/kontrail/kontrail/api/common/v1alpha1"
)

// Labels and annotations on what the operator makes.
const (
	LabelManagedBy  = "app.kubernetes.io/managed-by"
	ManagedBy       = "kontrail-operator"
	LabelComponent  = "app.kubernetes.io/component"
	LabelPartOf     = "app.kubernetes.io/part-of"
	LabelApp        = "app"
	AnnotationOwner = "kontrail.juniper.net/owner" // Kind/namespace/name, on cluster-scoped objects
)

// Workload describes one component's pods: a Deployment, or a DaemonSet
// when DaemonSet is set. Reconciler adds what every component shares.
type Workload struct {
	Owner commonv1alpha1.Component
	// Name of the workload, its ServiceAccount and pods' app label.
	Name string
	// Component is the app.kubernetes.io/component label and names the
	// component's generated role (config/components/<Component>).
	Component     string
	ContainerName string
	Binary        string
	Image         string
	Args          []string
	Env           []corev1.EnvVar
	Volumes       []corev1.Volume
	Mounts        []corev1.VolumeMount
	// MetricsPort and HealthPort the binary listens on. Every component
	// runs in the host network, so each has its own (see docs/security.md).
	MetricsPort, HealthPort int32
	// DaemonSet runs the component on every node, in the host network,
	// privileged, updated at most MaxUnavailable at a time.
	DaemonSet      bool
	MaxUnavailable intstr.IntOrString
	// ExtraPorts are more container ports (the apiserver's webhook port).
	ExtraPorts []corev1.ContainerPort
	// LeaderElection: the component runs controllers that must run once
	// (the apiserver serves webhooks on every replica and has no lease rights).
	LeaderElection bool
}

func (w *Workload) labels() map[string]string {
	return map[string]string{LabelApp: w.Name, LabelPartOf: "kontrail", LabelComponent: w.Component, LabelManagedBy: ManagedBy}
}

// ServiceAccountName is the account the pods run as.
func (w *Workload) ServiceAccountName() string {
	if sa := w.Owner.GetComponentSpec().Common.ServiceAccountName; sa != "" {
		return sa
	}
	return w.Name
}

// UserName is the username the pods' requests carry:
// system:serviceaccount:<namespace>:<account>.
func (w *Workload) UserName() string {
	return "system:serviceaccount:" + w.Owner.GetNamespace() + ":" + w.ServiceAccountName()
}

// UserName is the username of the pods of a resource, whose workload is
// named after it (as every Kontrail resource's is), without rendering it.
func UserName(owner commonv1alpha1.Component) string {
	return (&Workload{Owner: owner, Name: owner.GetName()}).UserName()
}

// ClusterScopedName names the cluster-scoped objects of a namespaced resource.
func ClusterScopedName(owner metav1.Object) string {
	return "kontrail-" + owner.GetNamespace() + "-" + owner.GetName()
}

// podTemplate renders the pod, in the host network: Kontrail is the
// cluster's pod network, so its own pods cannot wait for it (nodes are
// NotReady until the agent installs the CNI, and the agent needs the
// control plane). Deployments' containers are otherwise as restricted as
// Pod Security's restricted level asks; the DaemonSet's are privileged.
// spec.common is applied last.
func (w *Workload) podTemplate() corev1.PodTemplateSpec {
	spec := w.Owner.GetComponentSpec()
	common := spec.Common
	metrics, health := w.MetricsPort, w.HealthPort
	args := []string{"--health-probe-bind-address=:" + strconv.Itoa(int(health)), "--metrics-bind-address=:" + strconv.Itoa(int(metrics)),
		"--zap-log-level=" + zapLevel(spec.LogLevel)}
	if w.LeaderElection {
		args = append([]string{"--leader-elect"}, args...)
	}
	container := corev1.Container{
		Name:            w.ContainerName,
		Image:           w.Image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Command:         []string{"/" + w.Binary},
		Args:            append(args, w.Args...),
		Env:             w.Env,
		VolumeMounts:    w.Mounts,
		Ports: append([]corev1.ContainerPort{{Name: "metrics", ContainerPort: metrics}, {Name: "health", ContainerPort: health}},
			w.ExtraPorts...),
		LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(health)}},
			InitialDelaySeconds: 15, PeriodSeconds: 20},
		// Readiness gates the next component's rollout (the Controller waits
		// for an Available ApiServer, the Vrouter for the Controller): probe
		// early and often; a failed readiness probe costs nothing.
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromInt32(health)}},
			PeriodSeconds: 2},
		SecurityContext: restrictedContainer(),
	}
	pod := corev1.PodSpec{
		ServiceAccountName: w.ServiceAccountName(),
		NodeSelector:       common.NodeSelector,
		Affinity:           common.Affinity,
		Tolerations:        common.Tolerations,
		PriorityClassName:  common.PriorityClassName,
		Volumes:            w.Volumes,
		SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
		HostNetwork: true,
		DNSPolicy:   corev1.DNSClusterFirstWithHostNet,
	}
	if len(pod.Tolerations) == 0 {
		// Nodes are not Ready until the agent installs the CNI.
		pod.Tolerations = []corev1.Toleration{{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists}}
	}
	if pod.PriorityClassName == "" {
		pod.PriorityClassName = "system-cluster-critical"
	}
	if w.DaemonSet {
		// The agent programs the node's network and installs the CNI
		// plugin: it needs root and privilege, and runs on every node.
		// Root whatever user its image names (distroless images name nonroot).
		container.SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(true), RunAsUser: ptr.To(int64(0))}
		pod.SecurityContext = nil
		if len(common.Tolerations) == 0 {
			pod.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
		}
		if common.PriorityClassName == "" {
			pod.PriorityClassName = "system-node-critical"
		}
	}
	applyContainerOverrides(&container, common.Containers)
	pod.Containers = []corev1.Container{container}
	for _, name := range common.ImagePullSecrets {
		pod.ImagePullSecrets = append(pod.ImagePullSecrets, corev1.LocalObjectReference{Name: name})
	}
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: w.labels(), Annotations: common.PodAnnotations}, Spec: pod}
}

// RenderDeployment renders a Deployment-backed component.
func (w *Workload) RenderDeployment() *appsv1.Deployment {
	replicas := ptr.To(int32(1))
	if r := w.Owner.GetComponentSpec().Common.Replicas; r != nil {
		replicas = r
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: w.Owner.GetNamespace(), Name: w.Name, Labels: w.labels()},
		Spec: appsv1.DeploymentSpec{
			Replicas: replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{LabelApp: w.Name}},
			Template: w.podTemplate(),
		},
	}
}

// RenderDaemonSet renders a DaemonSet-backed component, rolled out at most
// MaxUnavailable nodes at a time (never OnDelete).
func (w *Workload) RenderDaemonSet() *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: w.Owner.GetNamespace(), Name: w.Name, Labels: w.labels()},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{LabelApp: w.Name}},
			Template: w.podTemplate(),
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(w.MaxUnavailable), MaxSurge: ptr.To(intstr.FromInt32(0))}},
		},
	}
}

// RenderRBAC renders the ClusterRole with the component's generated rules
// and its binding to the pods' ServiceAccount.
func (w *Workload) RenderRBAC(rules []rbacv1.PolicyRule, kind string) (*rbacv1.ClusterRole, *rbacv1.ClusterRoleBinding) {
	name := ClusterScopedName(w.Owner)
	meta := metav1.ObjectMeta{Name: name, Labels: w.labels(),
		Annotations: map[string]string{AnnotationOwner: fmt.Sprintf("%s/%s/%s", kind, w.Owner.GetNamespace(), w.Owner.GetName())}}
	role := &rbacv1.ClusterRole{ObjectMeta: meta, Rules: rules}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: *meta.DeepCopy(),
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: w.Owner.GetNamespace(), Name: w.ServiceAccountName()}}}
	return role, binding
}

// restrictedContainer passes Pod Security's restricted level.
func restrictedContainer() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
		RunAsNonRoot:             ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
}

// applyContainerOverrides applies spec.common.containers to the container of its name.
func applyContainerOverrides(c *corev1.Container, overrides []commonv1alpha1.Container) {
	for _, o := range overrides {
		if o.Name != c.Name {
			continue
		}
		if o.Image != "" {
			c.Image = o.Image
		}
		if len(o.Command) > 0 {
			c.Command = o.Command
		}
		if len(o.Args) > 0 {
			c.Args = o.Args
		}
		if o.Resources != nil {
			c.Resources = *o.Resources
		}
	}
}

// zapLevel maps a log level to the components' --zap-log-level: logr has
// no warning level, so warn logs errors only.
func zapLevel(l commonv1alpha1.LogLevel) string {
	switch l {
	case "debug", "error":
		return string(l)
	case "warn":
		return "error"
	default:
		return "info"
	}
}
