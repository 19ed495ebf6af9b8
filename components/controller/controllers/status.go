package controllers

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
)

// ConditionReady is True when everything an object asks for is in place.
const ConditionReady = corev1alpha1.ConditionReady

// Reasons of the Ready condition.
const (
	ReasonReady              = corev1alpha1.ReasonReady
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
	cs.SetState(generation, state, reason, observation)
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

// writeObject writes what the controller changed of obj (metadata, spec
// and status) in one merge patch against before, for the kinds without a
// status subresource (VirtualMachines, interfaces and InstanceIPs, as in
// CN2). Any change of their spec or status makes the next generation,
// which the status names. With lock, the patch applies only to the object
// before was read from. Admission keeps the status of a writer it does not
// know as a component: a status the apiserver did not take is an error
// (the webhook configurations do not name this controller's user yet), and
// the reconcile is tried again.
func writeObject[T interface {
	client.Object
	corev1alpha1.Object
}](ctx context.Context, c client.Client, obj, before T, lock bool) error {
	if equality.Semantic.DeepEqual(obj, before) {
		return nil // nothing changed: save the apiserver a request
	}
	cs := obj.GetCommonStatus()
	generation := before.GetGeneration() + 1
	cs.ObservedGeneration = generation
	for i := range cs.Conditions {
		cs.Conditions[i].ObservedGeneration = generation
	}
	patch := client.MergeFrom(before)
	if lock {
		patch = client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})
	}
	if err := c.Patch(ctx, obj, patch); err != nil {
		return fmt.Errorf("failed to write %s: %w", obj.GetName(), err)
	}
	if got := obj.GetCommonStatus().ObservedGeneration; got != generation {
		return fmt.Errorf("the apiserver kept the earlier status of %s (observedGeneration %d, not %d): "+
			"its admission does not take this controller's status writes (the webhook configurations "+
			"name the components' users)", obj.GetName(), got, generation)
	}
	return nil
}

// deepCopy keeps the typed copy for patches.
func deepCopy[T runtime.Object](obj T) T {
	return obj.DeepCopyObject().(T)
}
