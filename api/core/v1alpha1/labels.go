package v1alpha1

import "fmt"

// Labels and annotations that Kontrail components read and write on the
// core objects. The names are CN2's where CN2 has one.
const (
	// LabelClusterName names the Kubernetes cluster (kubemanager) an object belongs to.
	LabelClusterName = "core.juniper.net/clusterName"

	// LabelDefaultNetwork marks the cluster's default networks kubemanager
	// makes: DefaultNetworkPod (every pod's eth0, routed by every node:
	// fabricSNAT applies to it) or DefaultNetworkService.
	LabelDefaultNetwork   = "kontrail.io/default-network"
	DefaultNetworkPod     = "pod"
	DefaultNetworkService = "service"

	// LabelSubnetVirtualNetwork, on a Subnet, names the VirtualNetwork (in
	// the Subnet's namespace) whose address space the Subnet is part of.
	// Subnets of one network must not overlap.
	LabelSubnetVirtualNetwork = "core.juniper.net/parent-virtualnetwork"

	// LabelSystemRouteTarget marks the route targets the controller
	// allocates for routing instances.
	LabelSystemRouteTarget = "core.juniper.net/systemrt"

	// AnnotationNADName, AnnotationNADNamespace and AnnotationNADClusterName,
	// on a VirtualNetwork, name the NetworkAttachmentDefinition it was made
	// from and the cluster of that NAD.
	AnnotationNADName        = "juniper.net/nad-name"
	AnnotationNADNamespace   = "juniper.net/nad-namespace"
	AnnotationNADClusterName = "juniper.net/nad-cluster-name"

	// The contract between kubemanager, which makes a pod's objects, and
	// the components that read them (the vrouter agent, the controller,
	// admission). LabelPodUID, on every object made for a pod (its
	// VirtualMachine, VirtualMachineInterfaces and InstanceIPs), is the
	// pod's UID: a pod deleted and made again under its name never gets
	// the old one's objects. AnnotationPod names the pod, <namespace>/<name>.
	LabelPodUID   = "kube-manager.juniper.net/pod-uid"
	AnnotationPod = "kube-manager.juniper.net/pod"
	// AnnotationVMUUID, on a pod, is the UID of its VirtualMachine; with
	// the pod's k8s.v1.cni.cncf.io/network-status, kubemanager's word that
	// the pod's interfaces are allocated and may be plugged. A plugged
	// pod's objects are its own until it is deleted.
	AnnotationVMUUID = "kube-manager.juniper.net/vm-uuid"
	// AnnotationNetworksStatus, on a NAD or a pod, is what kubemanager made
	// of it (CN2's juniper.net/networks-status).
	AnnotationNetworksStatus = "juniper.net/networks-status"

	// AnnotationNetworkStatus is the network plumbing group's
	// k8s.v1.cni.cncf.io/network-status, which kubemanager writes on pods.
	AnnotationNetworkStatus = "k8s.v1.cni.cncf.io/network-status"

	// DefaultDomain is the first element of a namespaced object's fqName.
	DefaultDomain = "default-domain"
	// DefaultGlobalSystemConfig is the first element of a VirtualRouter's fqName.
	DefaultGlobalSystemConfig = "default-global-system-config"
)

// PodAnnotationsOfKubemanager are every pod annotation kubemanager writes:
// the only thing of a pod it may change (its ValidatingAdmissionPolicy,
// rendered by the operator, holds it to that).
var PodAnnotationsOfKubemanager = []string{AnnotationNetworkStatus, AnnotationNetworksStatus, AnnotationPodProblem, AnnotationVMUUID}

// CheckNetworkCluster says why an interface of cluster (its
// VirtualMachineInterface's clusterName) may not be on vn: the network
// belongs to another cluster (another kubemanager) by its
// LabelClusterName, else by its NAD's AnnotationNADClusterName. It is ""
// when the interface may, or when either cluster is not known. The
// apiserver's webhook refuses such an interface of any writer;
// kubemanager checks its own before it makes them, since the webhook
// skips its account.
func CheckNetworkCluster(cluster string, vn *VirtualNetwork) string {
	owner := vn.Labels[LabelClusterName]
	if owner == "" {
		owner = vn.Annotations[AnnotationNADClusterName]
	}
	if cluster == "" || owner == "" || owner == cluster {
		return ""
	}
	return fmt.Sprintf("VirtualNetwork %s/%s belongs to cluster %q, not to this interface's cluster %q", vn.Namespace, vn.Name, owner, cluster)
}
