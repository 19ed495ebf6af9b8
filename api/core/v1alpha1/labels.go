package v1alpha1

// Labels and annotations that Kontrail components read and write on the
// core objects. The names are CN2's where CN2 has one.
const (
	// LabelClusterName names the Kubernetes cluster (kubemanager) an object belongs to.
	LabelClusterName = "core.juniper.net/clusterName"

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

	// DefaultDomain is the first element of a namespaced object's fqName.
	DefaultDomain = "default-domain"
	// DefaultGlobalSystemConfig is the first element of a VirtualRouter's fqName.
	DefaultGlobalSystemConfig = "default-global-system-config"
)
