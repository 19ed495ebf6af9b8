package v1alpha1

// AnnotationPodProblem, on a pod, is kubemanager's typed verdict on a pod
// it cannot plug: a PodProblem as JSON, absent when the pod can be
// plugged. The vrouter agent reads it to answer the CNI ADD; the user
// reads the same message in juniper.net/networks-status ("failure: ...",
// as CN2 writes it) and in a NetworksFailed event.
const AnnotationPodProblem = "kube-manager.juniper.net/problem"

// PodProblemReason says why a pod cannot be plugged.
type PodProblemReason string

const (
	// PodProblemNotFound: a NAD, network, namespace or subnet the pod's
	// networks name does not exist (yet): a NAD applied with the pod may
	// be on its way.
	PodProblemNotFound PodProblemReason = "NotFound"
	// PodProblemInvalidNetworks: the pod's networks annotation, or a NAD
	// it names, is invalid; only an edit helps.
	PodProblemInvalidNetworks PodProblemReason = "InvalidNetworks"
	// PodProblemAllocationFailed: an address or MAC the pod asks for is
	// taken or outside its network, or a subnet is exhausted.
	PodProblemAllocationFailed PodProblemReason = "AllocationFailed"
)

// PodProblem is why a pod cannot be plugged, and whether it may come
// right without the user (kubemanager tries again by itself).
type PodProblem struct {
	Reason  PodProblemReason `json:"reason"`
	Message string           `json:"message"`
	// Retry: kubemanager tries again by itself, and the problem may go
	// (an object on its way, an address freed); false: only a change by
	// the user helps.
	Retry bool `json:"retry"`
}

// Error is the problem's message.
func (p *PodProblem) Error() string { return p.Message }
