// Package configplane holds the operator's reconcilers of the
// configplane.juniper.net resources: each turns its resource into the
// component's workload.
package configplane

import (
	"encoding/json"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	configplanev1alpha1 "github.com/kontrail/kontrail/api/configplane/v1alpha1"
	"github.com/kontrail/kontrail/operator/controller/component"
)

// Metrics ports of the components (health is the next port): they share
// each node's network with the operator (8080, 8081) and the vrouter agent
// (its restPort, 9091 and 9092), so each has its own.
const (
	ApiServerMetricsPort   = 8180
	ControllerMetricsPort  = 8280
	KubemanagerMetricsPort = 8380
)

// KubemanagerContainer is the name of kubemanager's container, as CN2's.
const KubemanagerContainer = "contrail-k8s-kubemanager"

// kubemanagerEnv is the container's environment, as the seed shows CN2's:
// every setting of the resource as the KUBEMANAGER_* variable kubemanager reads.
func kubemanagerEnv(km *configplanev1alpha1.Kubemanager) []corev1.EnvVar {
	s := km.Spec
	clusterNamespace := s.ClusterName + "-contrail"
	crossNamespace, shared := "Allow", ""
	if c := s.CrossNamespaceNetworks; c != nil {
		if c.Policy != "" {
			crossNamespace = c.Policy
		}
		shared = strings.Join(c.SharedNamespaces, ",")
	}
	selectors := ""
	if len(s.ExternalNetworkSelectors) > 0 {
		data, _ := json.Marshal(s.ExternalNetworkSelectors) // plain maps and selectors: cannot fail
		selectors = string(data)
	}
	return []corev1.EnvVar{
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
		{Name: "KUBEMANAGER_CROSS_NAMESPACE_NETWORKS", Value: crossNamespace},
		{Name: "KUBEMANAGER_SHARED_NAMESPACES", Value: shared},
	}
}

// kubemanagerWorkload is kubemanager's Deployment.
func kubemanagerWorkload(km *configplanev1alpha1.Kubemanager, image string) *component.Workload {
	s := km.Spec
	return &component.Workload{Owner: km, Name: km.Name, Component: "kubemanager", ContainerName: KubemanagerContainer,
		Binary: "kontrail-kubemanager", Image: image, Env: kubemanagerEnv(km), LeaderElection: true,
		MetricsPort: KubemanagerMetricsPort, HealthPort: KubemanagerMetricsPort + 1,
		Args: []string{"--workers=" + strconv.Itoa(int(s.Workers)), "--kube-api-qps=" + strconv.Itoa(int(s.ClientQPS)),
			"--kube-api-burst=" + strconv.Itoa(int(s.ClientBurst))}}
}

// controllerWorkload is the controller's Deployment.
func controllerWorkload(c *configplanev1alpha1.Controller, image string, as int64) *component.Workload {
	s := c.Spec
	return &component.Workload{Owner: c, Name: c.Name, Component: "controller", ContainerName: "contrail-k8s-controller",
		Binary: "kontrail-controller", Image: image, LeaderElection: true,
		MetricsPort: ControllerMetricsPort, HealthPort: ControllerMetricsPort + 1,
		Args: []string{"--workers=" + strconv.Itoa(int(s.Workers)), "--kube-api-qps=" + strconv.Itoa(int(s.ClientQPS)),
			"--kube-api-burst=" + strconv.Itoa(int(s.ClientBurst)), "--autonomous-system=" + strconv.FormatInt(as, 10)}}
}

// certDir is where the apiserver's serving certificate is mounted.
const certDir = "/var/run/kontrail/serving-certs"

// apiServerWorkload is the apiserver's Deployment, serving TLS with the
// certificate the operator issues.
func apiServerWorkload(a *configplanev1alpha1.ApiServer, image string) *component.Workload {
	return &component.Workload{Owner: a, Name: a.Name, Component: "apiserver", ContainerName: "contrail-k8s-apiserver",
		Binary: "kontrail-apiserver", Image: image, MetricsPort: ApiServerMetricsPort, HealthPort: ApiServerMetricsPort + 1,
		Args:       []string{"--webhook-port=" + strconv.Itoa(int(a.Spec.ListenerPort)), "--cert-dir=" + certDir},
		ExtraPorts: []corev1.ContainerPort{{Name: "webhook", ContainerPort: a.Spec.ListenerPort}},
		Volumes: []corev1.Volume{{Name: "serving-cert", VolumeSource: corev1.VolumeSource{
			Secret: &corev1.SecretVolumeSource{SecretName: servingCertSecret(a)}}}},
		Mounts: []corev1.VolumeMount{{Name: "serving-cert", MountPath: certDir, ReadOnly: true}}}
}
