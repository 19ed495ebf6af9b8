package kubemanager

import (
	"context"
	"fmt"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// Field indexes of the cache.
const (
	// indexVMINetwork: a VirtualMachineInterface by its network, <namespace>/<name>.
	indexVMINetwork = "spec.virtualNetworkReference"
	// indexService: an InstanceIP by the Service it is a cluster IP of.
	indexService = "metadata.annotations.service"
)

// cut splits <namespace>/<name>.
func cut(key string) (string, string, bool) { return strings.Cut(key, "/") }

func addFinalizer(ctx context.Context, c client.Client, obj client.Object, f string) error {
	if controllerutil.ContainsFinalizer(obj, f) {
		return nil
	}
	before := obj.DeepCopyObject().(client.Object)
	controllerutil.AddFinalizer(obj, f)
	if err := c.Patch(ctx, obj, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("failed to add finalizer to %s: %w", obj.GetName(), err)
	}
	return nil
}

func removeFinalizer(ctx context.Context, c client.Client, obj client.Object, f string) error {
	if !controllerutil.ContainsFinalizer(obj, f) {
		return nil
	}
	before := obj.DeepCopyObject().(client.Object)
	controllerutil.RemoveFinalizer(obj, f)
	if err := c.Patch(ctx, obj, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("failed to remove finalizer from %s: %w", obj.GetName(), err)
	}
	return nil
}

// setAnnotation sets one annotation with a merge patch.
func setAnnotation(ctx context.Context, c client.Client, obj client.Object, key, value string) error {
	return setAnnotations(ctx, c, obj, map[string]string{key: value})
}

func setAnnotations(ctx context.Context, c client.Client, obj client.Object, kv map[string]string) error {
	before := obj.DeepCopyObject().(client.Object)
	a := obj.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	for k, v := range kv {
		a[k] = v
	}
	obj.SetAnnotations(a)
	if err := c.Patch(ctx, obj, client.MergeFrom(before)); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("failed to annotate %s: %w", obj.GetName(), err)
	}
	return nil
}

func controllerOptions(workers int) controller.Options {
	return controller.Options{MaxConcurrentReconciles: max(workers, 1)}
}
