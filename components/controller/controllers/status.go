package controllers

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
)

// ConditionReady is True when everything an object asks for is in place.
const ConditionReady = "Ready"

// Reasons of the Ready condition.
const (
	ReasonReady              = "Ready"
	ReasonNetworkNotFound    = "VirtualNetworkNotFound"
	ReasonSubnetNotFound     = "SubnetNotFound"
	ReasonNoSubnet           = "NoSubnetOfFamily"
	ReasonAddressTaken       = "AddressTaken"
	ReasonAddressOutside     = "AddressOutsideSubnet"
	ReasonSubnetExhausted    = "SubnetExhausted"
	ReasonInvalidMAC         = "InvalidMAC"
	ReasonMACTaken           = "MACTaken"
	ReasonPoolExhausted      = "PoolExhausted"
	ReasonInUse              = "InUse"
	ReasonRoutingInstance    = "RoutingInstancePending"
	ReasonDefaultRouteTarget = "DefaultRouteTargetPending"
)

// setState records the outcome of a reconcile: state, observation and the
// Ready condition, for generation.
func setState(cs *corev1alpha1.CommonStatus, generation int64, state corev1alpha1.State, reason, observation string) {
	cs.State = state
	cs.Observation = observation
	cs.ObservedGeneration = generation
	status := metav1.ConditionFalse
	if state == corev1alpha1.StateSuccess {
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

// patchStatus writes the status of obj as a merge patch against before, so
// that two reconcilers writing different status fields of one object do not
// undo each other.
func patchStatus(ctx context.Context, c client.Client, obj, before client.Object) error {
	if equality.Semantic.DeepEqual(obj, before) {
		return nil // nothing changed: save the apiserver a request
	}
	if err := c.Status().Patch(ctx, obj, client.MergeFrom(before)); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("failed to update the status of %s: %w", obj.GetName(), err)
	}
	return nil
}

// deepCopy keeps the typed copy for patches.
func deepCopy[T runtime.Object](obj T) T {
	return obj.DeepCopyObject().(T)
}
