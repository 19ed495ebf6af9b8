package kubemanager

import (
	"context"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
)

// staleCache is a cache that has not seen anything yet, unless told.
type staleCache struct {
	client.Client
	seen map[types.NamespacedName]bool
}

func (c staleCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if !c.seen[key] {
		return apierrors.NewNotFound(schema.GroupResource{Resource: "instanceips"}, key.Name)
	}
	return c.Client.Get(ctx, key, obj, opts...)
}

// An object kubemanager created that its cache lags is read from the
// apiserver, not created twice; one deleted meanwhile is made again; one
// it did not create is the cache's to answer.
func TestGetMadeOnAStaleCache(t *testing.T) {
	ctx := context.Background()
	scheme := runtime.NewScheme()
	if err := corev1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	api := fake.NewClientBuilder().WithScheme(scheme).Build()
	cache := staleCache{Client: api, seen: map[types.NamespacedName]bool{}}
	r := &PodReconciler{Client: cache, APIReader: api}
	pod := types.NamespacedName{Namespace: "ns", Name: "p"}
	iip := func(name string) *corev1alpha1.InstanceIP {
		return &corev1alpha1.InstanceIP{ObjectMeta: metav1.ObjectMeta{Name: name}}
	}

	// Created by this kubemanager, not yet in the cache: the apiserver's.
	made := iip("made")
	if err := api.Create(ctx, made); err != nil {
		t.Fatal(err)
	}
	r.created.Store(createdKey(pod, made), struct{}{})
	if err := r.getMade(ctx, pod, iip("made")); err != nil {
		t.Fatalf("a created object the cache lags: %v, want it read from the apiserver", err)
	}

	// Deleted before the cache saw it: NotFound (made again), and the
	// record goes.
	if err := api.Delete(ctx, made); err != nil {
		t.Fatal(err)
	}
	if err := r.getMade(ctx, pod, iip("made")); !apierrors.IsNotFound(err) {
		t.Fatalf("a created object deleted since: %v, want NotFound", err)
	}
	if _, ok := r.created.Load(createdKey(pod, made)); ok {
		t.Fatal("the record of a deleted object is kept")
	}

	// Not created by it: the cache answers, even if the apiserver has it.
	other := iip("other")
	if err := api.Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	if err := r.getMade(ctx, pod, iip("other")); !apierrors.IsNotFound(err) {
		t.Fatalf("an object it did not create: %v, want the cache's NotFound", err)
	}

	// Seen by the cache: the record goes.
	r.created.Store(createdKey(pod, other), struct{}{})
	cache.seen[types.NamespacedName{Name: "other"}] = true
	if err := r.getMade(ctx, pod, iip("other")); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.created.Load(createdKey(pod, other)); ok {
		t.Fatal("the record of an object the cache has is kept")
	}

	// A pod's records go with it, another pod's stay.
	second := types.NamespacedName{Namespace: "ns", Name: "p2"}
	r.created.Store(createdKey(pod, iip("a")), struct{}{})
	r.created.Store(createdKey(second, iip("b")), struct{}{})
	r.forgetMade(pod)
	if _, ok := r.created.Load(createdKey(pod, iip("a"))); ok {
		t.Fatal("a gone pod's record is kept")
	}
	if _, ok := r.created.Load(createdKey(second, iip("b"))); !ok {
		t.Fatal("another pod's record went")
	}
}
