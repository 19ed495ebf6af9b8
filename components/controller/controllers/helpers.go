package controllers

import (
	"context"
	"fmt"
	"slices"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// addFinalizers adds the missing finalizers to obj in one patch.
func addFinalizers(ctx context.Context, c client.Client, obj client.Object, finalizers ...string) error {
	before := obj.DeepCopyObject().(client.Object)
	changed := false
	for _, f := range finalizers {
		changed = controllerutil.AddFinalizer(obj, f) || changed
	}
	if !changed {
		return nil
	}
	if err := c.Patch(ctx, obj, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("failed to add finalizers to %s: %w", obj.GetName(), err)
	}
	return nil
}

// removeFinalizers removes the finalizers from obj in one patch.
func removeFinalizers(ctx context.Context, c client.Client, obj client.Object, finalizers ...string) error {
	before := obj.DeepCopyObject().(client.Object)
	kept := slices.DeleteFunc(slices.Clone(obj.GetFinalizers()), func(f string) bool { return slices.Contains(finalizers, f) })
	if len(kept) == len(obj.GetFinalizers()) {
		return nil
	}
	obj.SetFinalizers(kept)
	if err := c.Patch(ctx, obj, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("failed to remove finalizers from %s: %w", obj.GetName(), err)
	}
	return nil
}

// controllerOptions runs workers reconciles at once: a single worker (the
// default) would make a burst of a thousand objects wait in line.
func controllerOptions(workers int) controller.Options {
	return controller.Options{MaxConcurrentReconciles: max(workers, 1)}
}
