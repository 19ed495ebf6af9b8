// Package configplane holds the operator's reconcilers of the
// configplane.juniper.net resources: each turns its resource into the
// component's workload.
package configplane

import (
	"encoding/json"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	commonv1alpha1 "github.com/kontrail/kontrail/api/common/v1alpha1"
	configplanev1alpha1 "github.com/kontrail/kontrail/api/configplane/v1alpha1"
)

// KubemanagerContainer is the name of kubemanager's container, as CN2's.
const KubemanagerContainer = "contrail-k8s-kubemanager"

// kubemanagerEnv is the container's environment, as the seed shows CN2's:
// every setting of the resource as the KUBEMANAGER_* variable kubemanager reads.
func kubemanagerEnv(km *configplanev1alpha1.Kubemanager) []corev1.EnvVar {
	s := km.Spec
	clusterNamespace := s.ClusterName + "-contrail"
	selectors := ""
	if len(s.ExternalNetworkSelectors) > 0 {
		data, _ := json.Marshal(s.ExternalNetworkSelectors) // plain maps and selectors: cannot fail
		selectors = string(data)
	}
	env := []corev1.EnvVar{
		{Name: "KUBEMANAGER_CLUSTER_NAME", Value: s.ClusterName},
		{Name: "KUBEMANAGER_CLUSTER_POD_VIRTUAL_NETWORK", Value: "default-podnetwork"},
		{Name: "KUBEMANAGER_CLUSTER_SERVICE_VIRTUAL_NETWORK", Value: "default-servicenetwork"},
		{Name: "KUBEMANAGER_CLUSTER_PROJECT", Value: clusterNamespace},
		{Name: "KUBEMANAGER_CLUSTER_NAMESPACE", Value: clusterNamespace},
		{Name: "KUBEMANAGER_ENABLE_NAD", Value: strconv.FormatBool(s.EnableNad == nil || *s.EnableNad)},
		{Name: "KUBEMANAGER_EXTERNAL_NETWORK_SELECTORS", Value: selectors},
		{Name: "KUBEMANAGER_POD_V4_SUBNET", Value: s.PodV4Subnet},
		{Name: "KUBEMANAGER_POD_V6_SUBNET", Value: s.PodV6Subnet},
		{Name: "KUBEMANAGER_SERVICE_V4_SUBNET", Value: s.ServiceV4Subnet},
		{Name: "KUBEMANAGER_SERVICE_V6_SUBNET", Value: s.ServiceV6Subnet},
	}
	return env
}

// workload is what differs between the control-plane components'
// Deployments; renderDeployment adds what they share.
type workload struct {
	owner         commonv1alpha1.Component
	name          string // the Deployment's and service account's
	component     string // app.kubernetes.io/component
	containerName string
	binary        string
	image         string
	args          []string
	env           []corev1.EnvVar
}

// renderDeployment renders a component's Deployment: restricted pod
// security, health probes, the resource's spec.common applied.
func renderDeployment(w workload) *appsv1.Deployment {
	spec := w.owner.GetComponentSpec()
	common := spec.Common
	labels := map[string]string{"app": w.name, "app.kubernetes.io/part-of": "kontrail", "app.kubernetes.io/component": w.component}
	container := corev1.Container{
		Name:            w.containerName,
		Image:           w.image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Command:         []string{"/" + w.binary},
		Args: append([]string{"--leader-elect", "--health-probe-bind-address=:8081", "--metrics-bind-address=:8080",
			"--zap-log-level=" + zapLevel(spec.LogLevel)}, w.args...),
		Env:   w.env,
		Ports: []corev1.ContainerPort{{Name: "metrics", ContainerPort: 8080}, {Name: "health", ContainerPort: 8081}},
		LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstrPort(8081)}},
			InitialDelaySeconds: 15, PeriodSeconds: 20},
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstrPort(8081)}},
			InitialDelaySeconds: 5, PeriodSeconds: 10},
		SecurityContext: restrictedContainer(),
	}
	applyContainerOverrides(&container, common.Containers)

	pod := corev1.PodSpec{
		ServiceAccountName: w.name,
		Containers:         []corev1.Container{container},
		NodeSelector:       common.NodeSelector,
		Affinity:           common.Affinity,
		Tolerations:        common.Tolerations,
		PriorityClassName:  common.PriorityClassName,
		SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
	}
	if common.ServiceAccountName != "" {
		pod.ServiceAccountName = common.ServiceAccountName
	}
	for _, name := range common.ImagePullSecrets {
		pod.ImagePullSecrets = append(pod.ImagePullSecrets, corev1.LocalObjectReference{Name: name})
	}
	replicas := ptr.To(int32(1))
	if common.Replicas != nil {
		replicas = common.Replicas
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: w.owner.GetNamespace(), Name: w.name, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": w.name}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: common.PodAnnotations}, Spec: pod},
		},
	}
}

// kubemanagerWorkload is kubemanager's Deployment.
func kubemanagerWorkload(km *configplanev1alpha1.Kubemanager, image string) workload {
	s := km.Spec
	return workload{owner: km, name: km.Name, component: "kubemanager", containerName: KubemanagerContainer,
		binary: "kontrail-kubemanager", image: image, env: kubemanagerEnv(km),
		args: []string{"--workers=" + strconv.Itoa(int(s.Workers)), "--kube-api-qps=" + strconv.Itoa(int(s.ClientQPS)),
			"--kube-api-burst=" + strconv.Itoa(int(s.ClientBurst))}}
}

// controllerWorkload is the controller's Deployment.
func controllerWorkload(c *configplanev1alpha1.Controller, image string, as int64) workload {
	s := c.Spec
	return workload{owner: c, name: c.Name, component: "controller", containerName: "contrail-k8s-controller",
		binary: "kontrail-controller", image: image,
		args: []string{"--workers=" + strconv.Itoa(int(s.Workers)), "--kube-api-qps=" + strconv.Itoa(int(s.ClientQPS)),
			"--kube-api-burst=" + strconv.Itoa(int(s.ClientBurst)), "--autonomous-system=" + strconv.FormatInt(as, 10)}}
}

// apiServerWorkload is the apiserver's Deployment.
func apiServerWorkload(a *configplanev1alpha1.ApiServer, image string) workload {
	return workload{owner: a, name: a.Name, component: "apiserver", containerName: "contrail-k8s-apiserver",
		binary: "kontrail-apiserver", image: image,
		args: []string{"--webhook-port=" + strconv.Itoa(int(a.Spec.ListenerPort))}}
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

func intstrPort(p int) intstr.IntOrString { return intstr.FromInt32(int32(p)) }
