package kubemanager

import (
	"context"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// podOrder finishes pods in the order they came: each pod gets a number
// when kubemanager first hears of it, and every request for it (its own
// events, and those of the objects made for it) is queued at a priority
// that falls with that number. A pod whose interfaces were just allocated
// is so taken before pods that came after it, and a burst's pods finish
// one after the other instead of all together at its end (the queue is
// otherwise first-in first-out by request, which interleaves every pod's
// steps: its objects, then their statuses, then its annotation).
//
// Requests that change nothing (a resync, the informers' initial list)
// keep the controller-runtime's low priority: they never delay a pod at
// work.
type podOrder struct {
	mu   sync.Mutex
	next int
	seq  map[types.NamespacedName]int
}

// firstPriority is the priority of the first pod heard of; later pods
// get lower ones, all above handler.LowPriority for the next 2^30 pods.
const firstPriority = 1 << 30

func newPodOrder() *podOrder { return &podOrder{seq: map[types.NamespacedName]int{}} }

// priority is the pod's; number numbers a pod not heard of yet (only
// the pod's own events do: an object's deletion after its pod's must not
// number the gone pod again). A pod without a number has the default
// priority, 0.
func (o *podOrder) priority(pod types.NamespacedName, number bool) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n, ok := o.seq[pod]
	if !ok && !number {
		return 0
	}
	if !ok {
		o.next++
		n = o.next
		o.seq[pod] = n
	}
	return firstPriority - n%firstPriority
}

// forget drops a deleted pod's number.
func (o *podOrder) forget(pod types.NamespacedName) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.seq, pod)
}

// len is how many pods are numbered.
func (o *podOrder) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.seq)
}

// handler queues the pods mapped from an object's events at their
// priority; ofPods is for the pods' own events: they number a pod and its
// deletion forgets it.
func (o *podOrder) handler(toPods func(client.Object) []types.NamespacedName, ofPods bool) handler.EventHandler {
	add := func(q workqueue.TypedRateLimitingInterface[reconcile.Request], obj client.Object, unchanged bool) {
		for _, pod := range toPods(obj) {
			req := reconcile.Request{NamespacedName: pod}
			pq, ok := q.(priorityqueue.PriorityQueue[reconcile.Request])
			if !ok {
				q.Add(req)
				continue
			}
			priority := o.priority(pod, ofPods)
			if unchanged {
				priority = handler.LowPriority
			}
			pq.AddWithOpts(priorityqueue.AddOpts{Priority: &priority}, req)
		}
	}
	return handler.Funcs{
		CreateFunc: func(_ context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(q, e.Object, e.IsInInitialList)
		},
		UpdateFunc: func(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(q, e.ObjectNew, e.ObjectOld.GetResourceVersion() == e.ObjectNew.GetResourceVersion())
		},
		DeleteFunc: func(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(q, e.Object, false)
			if ofPods {
				for _, pod := range toPods(e.Object) {
					o.forget(pod)
				}
			}
		},
		GenericFunc: func(_ context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(q, e.Object, false)
		},
	}
}

// thePod is a pod's own key.
func thePod(o client.Object) []types.NamespacedName {
	if _, ok := o.(*corev1.Pod); !ok {
		return nil
	}
	return []types.NamespacedName{client.ObjectKeyFromObject(o)}
}

// podOf is the pod an object was made for (its AnnotationPod).
func podOf(o client.Object) []types.NamespacedName {
	ns, name, ok := cut(o.GetAnnotations()[AnnotationPod])
	if !ok {
		return nil
	}
	return []types.NamespacedName{{Namespace: ns, Name: name}}
}
