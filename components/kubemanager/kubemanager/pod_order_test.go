package kubemanager

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
)

// Pods are taken in the order they came, whatever order their objects'
// events arrive in: the first pod's allocation, reported while later pods
// wait in the queue, takes it out before them; a resync stays behind
// a pod at work; a deleted pod is forgotten and its objects' later
// deletions do not number it again.
func TestPodOrder(t *testing.T) {
	ctx := context.Background()
	q := priorityqueue.New[reconcile.Request]("pod-order-test")
	defer q.ShutDown()
	order := newPodOrder()
	pods, objects := order.handler(thePod, true), order.handler(podOf, false)

	pod := func(name string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, ResourceVersion: "1"}}
	}
	iip := func(podName, rv string) *corev1alpha1.InstanceIP {
		return &corev1alpha1.InstanceIP{ObjectMeta: metav1.ObjectMeta{Name: podName + "-iip", ResourceVersion: rv,
			Annotations: map[string]string{AnnotationPod: "ns/" + podName}}}
	}
	next := func() string {
		t.Helper()
		req, _, shutdown := q.GetWithPriority()
		if shutdown {
			t.Fatal("queue shut down")
		}
		q.Done(req)
		return req.Name
	}

	for _, name := range []string{"a", "b", "c"} {
		pods.Create(ctx, event.CreateEvent{Object: pod(name)}, q)
	}
	if got := next(); got != "a" {
		t.Fatalf("first pod out: %s, want a", got)
	}
	// a made its objects and waits; c's address is allocated, then a's.
	objects.Update(ctx, event.UpdateEvent{ObjectOld: iip("c", "1"), ObjectNew: iip("c", "2")}, q)
	objects.Update(ctx, event.UpdateEvent{ObjectOld: iip("a", "1"), ObjectNew: iip("a", "2")}, q)
	var got []string
	for range 3 {
		got = append(got, next())
	}
	if want := []string{"a", "b", "c"}; got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("order %v, want %v", got, want)
	}

	// A resync (nothing changed) of a pod at rest stays behind a new
	// pod's work.
	pods.Update(ctx, event.UpdateEvent{ObjectOld: pod("a"), ObjectNew: pod("a")}, q)
	pods.Create(ctx, event.CreateEvent{Object: pod("e")}, q)
	if first, second := next(), next(); first != "e" || second != "a" {
		t.Fatalf("order %s, %s; want e, a", first, second)
	}

	// A pod the resync alone heard of is numbered too, after the others.
	pods.Update(ctx, event.UpdateEvent{ObjectOld: pod("d"), ObjectNew: pod("d")}, q)
	objects.Update(ctx, event.UpdateEvent{ObjectOld: iip("d", "1"), ObjectNew: iip("d", "2")}, q)
	objects.Update(ctx, event.UpdateEvent{ObjectOld: iip("b", "1"), ObjectNew: iip("b", "2")}, q)
	if first, second := next(), next(); first != "b" || second != "d" {
		t.Fatalf("order %s, %s; want b, d", first, second)
	}

	// Deleted pods are forgotten, and stay so when their objects go.
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		pods.Delete(ctx, event.DeleteEvent{Object: pod(name)}, q)
		objects.Delete(ctx, event.DeleteEvent{Object: iip(name, "3")}, q)
	}
	for range 5 {
		next()
	}
	if n := order.len(); n != 0 {
		t.Fatalf("%d pods still numbered after every pod and object was deleted", n)
	}
	if p := order.priority(types.NamespacedName{Namespace: "ns", Name: "a"}, false); p != 0 {
		t.Fatalf("a gone pod's priority %d, want the default 0", p)
	}
}
