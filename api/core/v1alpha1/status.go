package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ConditionReady is True when everything an object asks for is in place.
const ConditionReady = "Ready"

// ReasonReady is the Ready condition's reason when it is True.
const ReasonReady = "Ready"

// SetState records the outcome of a reconcile: state, observation and the
// Ready condition, for generation.
func (cs *CommonStatus) SetState(generation int64, state State, reason, observation string) {
	cs.State = state
	cs.Observation = observation
	cs.ObservedGeneration = generation
	status := metav1.ConditionFalse
	if state == StateSuccess {
		status = metav1.ConditionTrue
	}
	message := observation
	if message == "" {
		message = "everything the object asks for is in place"
	}
	meta.SetStatusCondition(&cs.Conditions, metav1.Condition{
		Type: ConditionReady, Status: status, Reason: reason, Message: message, ObservedGeneration: generation,
	})
}

// Object is a core object: every kind of this package has a CommonStatus.
// +kubebuilder:object:generate=false
type Object interface {
	// GetCommonStatus returns the status fields every kind shares.
	GetCommonStatus() *CommonStatus
}

// GetCommonStatus returns the status fields every kind shares.
func (o *VirtualNetwork) GetCommonStatus() *CommonStatus { return &o.Status.CommonStatus }

// GetCommonStatus returns the status fields every kind shares.
func (o *Subnet) GetCommonStatus() *CommonStatus { return &o.Status.CommonStatus }

// GetCommonStatus returns the status fields every kind shares.
func (o *RoutingInstance) GetCommonStatus() *CommonStatus { return &o.Status.CommonStatus }

// GetCommonStatus returns the status fields every kind shares.
func (o *RouteTarget) GetCommonStatus() *CommonStatus { return &o.Status.CommonStatus }

// GetCommonStatus returns the status fields every kind shares.
func (o *VirtualMachine) GetCommonStatus() *CommonStatus { return &o.Status.CommonStatus }

// GetCommonStatus returns the status fields every kind shares.
func (o *VirtualMachineInterface) GetCommonStatus() *CommonStatus { return &o.Status.CommonStatus }

// GetCommonStatus returns the status fields every kind shares.
func (o *InstanceIP) GetCommonStatus() *CommonStatus { return &o.Status.CommonStatus }

// GetCommonStatus returns the status fields every kind shares.
func (o *VirtualNetworkRouter) GetCommonStatus() *CommonStatus { return &o.Status.CommonStatus }

// GetCommonStatus returns the status fields every kind shares.
func (o *VirtualRouter) GetCommonStatus() *CommonStatus { return &o.Status.CommonStatus }
