package controllers

import (
	"context"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
)

// +kubebuilder:rbac:groups=core.contrail.juniper.net,resources=allocations,verbs=get;list;watch;create;delete

// locks are the Allocations: one object per allocated value, named by the
// value, so that the apiserver — not the memory of whichever controller
// leads — refuses a second holder (as Kubernetes' ClusterIP allocator does
// with its IPAddress objects). The in-memory pools only propose
// candidates; a value is allocated once its Allocation is created for its
// holder, and released when, and only when, the holder is deleted.
type locks struct {
	client client.Client
	// reader reads the apiserver: who holds an existing Allocation.
	reader client.Reader

	// confirmed are the Allocations (by name) this controller has seen
	// held by the holder UID it maps them to: made by it, or listed at
	// load. An object that keeps its value is not checked twice.
	mu        sync.Mutex
	confirmed map[string]types.UID
	byHolder  map[types.UID]map[string]bool
}

func newLocks(c client.Client, reader client.Reader) *locks {
	return &locks{client: c, reader: reader, confirmed: map[string]types.UID{}, byHolder: map[types.UID]map[string]bool{}}
}

// holderOf is the reference an Allocation records for obj.
func holderOf(obj client.Object, kind string) corev1alpha1.ResourceReference {
	return corev1alpha1.ResourceReference{APIVersion: corev1alpha1.GroupVersion.String(), Kind: kind,
		Namespace: obj.GetNamespace(), Name: obj.GetName(), UID: obj.GetUID()}
}

// claim makes the Allocation name of value for holder. It returns the
// other holder when the apiserver already has the value held by another
// object (by UID), nil when it is holder's: made now, or by an earlier
// try whose write to holder did not happen.
func (l *locks) claim(ctx context.Context, name string, spec corev1alpha1.AllocationSpec) (*corev1alpha1.ResourceReference, error) {
	holder := spec.HolderReference.UID
	l.mu.Lock()
	if l.confirmed[name] == holder {
		l.mu.Unlock()
		return nil, nil
	}
	l.mu.Unlock()
	a := &corev1alpha1.Allocation{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
	err := l.client.Create(ctx, a)
	if apierrors.IsAlreadyExists(err) {
		existing := &corev1alpha1.Allocation{}
		if err := l.reader.Get(ctx, types.NamespacedName{Name: name}, existing); err != nil {
			// Deleted in between: the retry creates it.
			return nil, fmt.Errorf("failed to read Allocation %s: %w", name, err)
		}
		if existing.Spec.HolderReference.UID != holder {
			other := existing.Spec.HolderReference
			return &other, nil
		}
		err = nil
	}
	if err != nil {
		return nil, fmt.Errorf("failed to create Allocation %s: %w", name, err)
	}
	l.confirm(name, holder)
	return nil, nil
}

// release deletes the Allocation name if holder holds it: the holder is
// being deleted. One held by another object, or gone, is left alone.
func (l *locks) release(ctx context.Context, name string, holder types.UID) error {
	existing := &corev1alpha1.Allocation{}
	if err := l.reader.Get(ctx, types.NamespacedName{Name: name}, existing); err != nil {
		if apierrors.IsNotFound(err) {
			l.forget(name, holder)
			return nil
		}
		return fmt.Errorf("failed to read Allocation %s: %w", name, err)
	}
	if existing.Spec.HolderReference.UID != holder {
		l.forget(name, holder)
		return nil
	}
	uid := existing.UID
	if err := l.client.Delete(ctx, existing, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("failed to delete Allocation %s: %w", name, err)
	}
	l.forget(name, holder)
	h := existing.Spec.HolderReference
	logf.FromContext(ctx).Info("Released an allocation with its holder", "allocation", name, "holder", h.Kind+" "+qualified(h.Namespace, h.Name))
	return nil
}

func (l *locks) forget(name string, holder types.UID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.confirmed[name] == holder {
		delete(l.confirmed, name)
	}
	delete(l.byHolder[holder], name)
	if len(l.byHolder[holder]) == 0 {
		delete(l.byHolder, holder)
	}
}

// confirm records that holder holds the Allocation name (made, or listed
// from the apiserver).
func (l *locks) confirm(name string, holder types.UID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.confirmed[name] = holder
	if l.byHolder[holder] == nil {
		l.byHolder[holder] = map[string]bool{}
	}
	l.byHolder[holder][name] = true
}

// releaseHolder deletes every Allocation holder holds: those it records
// (names) and those this controller made for it, recorded or not.
func (l *locks) releaseHolder(ctx context.Context, holder types.UID, names ...string) error {
	l.mu.Lock()
	for name := range l.byHolder[holder] {
		names = append(names, name)
	}
	l.mu.Unlock()
	for _, name := range names {
		if err := l.release(ctx, name, holder); err != nil {
			return err
		}
	}
	return nil
}

// addressAllocation is the Allocation spec of addr of sn for iip.
func addressAllocation(sn types.NamespacedName, addr string, iip client.Object) corev1alpha1.AllocationSpec {
	return corev1alpha1.AllocationSpec{Type: corev1alpha1.AllocationAddress, Value: addr,
		SubnetReference: &corev1alpha1.ResourceReference{APIVersion: corev1alpha1.GroupVersion.String(), Kind: "Subnet",
			Namespace: sn.Namespace, Name: sn.Name},
		HolderReference: holderOf(iip, "InstanceIP")}
}
