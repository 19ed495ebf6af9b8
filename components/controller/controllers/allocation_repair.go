package controllers

import (
	"context"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
)

// allocationRepair deletes the Allocations whose holder is gone: an
// allocation claimed for an object that was deleted before the claim was
// recorded on it (so no finalizer of it released the claim). As Calico's
// and Kubernetes' repairs do, it never frees on one look: an Allocation is
// deleted only when two passes, interval apart, found its holder missing
// (in the cache), the Allocation is older than minAge, and a last look at
// the apiserver itself confirms that no object of its UID exists.
type allocationRepair struct {
	client   client.Client // cached reads, writes
	reader   client.Reader // the apiserver
	state    *State
	interval time.Duration
	minAge   time.Duration

	suspects map[string]bool // Allocation names whose holder the last pass missed
}

// NeedLeaderElection: only the leader repairs.
func (r *allocationRepair) NeedLeaderElection() bool { return true }

// Start runs a pass every interval until ctx ends.
func (r *allocationRepair) Start(ctx context.Context) error {
	r.suspects = map[string]bool{}
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := r.pass(ctx); err != nil {
				logf.FromContext(ctx).WithName("allocation-repair").Error(err, "Repair pass failed")
			}
		}
	}
}

func (r *allocationRepair) pass(ctx context.Context) error {
	log := logf.FromContext(ctx).WithName("allocation-repair")
	if err := r.state.Load(ctx); err != nil {
		return err
	}
	suspects := map[string]bool{}
	err := eachAllocation(ctx, r.reader, func(a *corev1alpha1.Allocation) {
		if time.Since(a.CreationTimestamp.Time) < r.minAge {
			return
		}
		gone, err := r.holderGone(ctx, r.client, a.Spec.HolderReference)
		if err != nil || !gone {
			return
		}
		if !r.suspects[a.Name] {
			suspects[a.Name] = true // look again next pass
			return
		}
		if gone, err := r.holderGone(ctx, r.reader, a.Spec.HolderReference); err != nil || !gone {
			return
		}
		uid := a.UID
		if err := r.client.Delete(ctx, a, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil {
			log.Error(err, "Failed to delete an Allocation whose holder is gone", "allocation", a.Name)
			return
		}
		holder := a.Spec.HolderReference.UID
		r.state.locks.forget(a.Name, holder)
		r.state.releaseOwner(holder)
		log.Info("Deleted an Allocation whose holder is gone", "allocation", a.Name, "holder",
			a.Spec.HolderReference.Kind+" "+qualified(a.Spec.HolderReference.Namespace, a.Spec.HolderReference.Name))
	})
	if err != nil {
		return err
	}
	r.suspects = suspects
	return nil
}

// holderGone says whether no object of the holder's kind, name and UID exists.
func (r *allocationRepair) holderGone(ctx context.Context, c client.Reader, ref corev1alpha1.ResourceReference) (bool, error) {
	var obj client.Object
	switch ref.Kind {
	case "InstanceIP":
		obj = &corev1alpha1.InstanceIP{}
	case "VirtualMachineInterface":
		obj = &corev1alpha1.VirtualMachineInterface{}
	case "VirtualNetwork":
		obj = &corev1alpha1.VirtualNetwork{}
	default:
		return false, nil // not ours to judge
	}
	err := c.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, obj)
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return obj.GetUID() != ref.UID, nil
}
