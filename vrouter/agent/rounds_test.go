package agent

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	corev1alpha1 "github.com/kontrail/kontrail/api/core/v1alpha1"
)

// Each caller of a burst gets a run that began after it asked (it sees
// what the caller did before asking), and the burst shares a few runs
// instead of one each.
func TestRoundsCoalesceAndNeverAnswerWithAnEarlierRun(t *testing.T) {
	var added atomic.Int64 // what callers did before asking (ports added)
	var runs atomic.Int64
	var inRun atomic.Int32
	r := newRounds(func(context.Context) int64 {
		if inRun.Add(1) != 1 {
			t.Error("two runs at once")
		}
		defer inRun.Add(-1)
		runs.Add(1)
		seen := added.Load()
		time.Sleep(20 * time.Millisecond)
		return seen
	})
	const callers = 200
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i%10) * 5 * time.Millisecond)
			mine := added.Add(1)
			seen, err := r.do(context.Background())
			if err != nil {
				t.Errorf("caller %d: %v", i, err)
			}
			if seen < mine {
				t.Errorf("caller %d added the %dth port but its run saw only %d", i, mine, seen)
			}
		}()
	}
	wg.Wait()
	if n := runs.Load(); n >= callers/4 {
		t.Errorf("%d callers made %d runs: not coalesced", callers, n)
	}
	t.Logf("%d callers, %d runs", callers, runs.Load())
}

// A caller that stops waiting gets its context's error; the run goes on
// for the others, uncancelled.
func TestRoundsCallerGivesUpTheRunGoesOn(t *testing.T) {
	release := make(chan struct{})
	var runCtxErr atomic.Value
	r := newRounds(func(ctx context.Context) string {
		<-release
		runCtxErr.Store(ctx.Err() == nil)
		return "done"
	})
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() { _, err := r.do(ctx); gaveUp <- err }()
	other := make(chan string, 1)
	time.Sleep(10 * time.Millisecond)
	go func() { s, _ := r.do(context.Background()); other <- s }()
	time.Sleep(10 * time.Millisecond)
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("the caller that gave up got %v", err)
	}
	close(release)
	select {
	case s := <-other:
		if s != "done" {
			t.Errorf("the other caller got %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the other caller never got its run")
	}
	if ok, _ := runCtxErr.Load().(bool); !ok {
		t.Error("the run's context was cancelled with the caller's")
	}
}

// The node's own status writes wake no reconcile; anything else about
// VirtualRouters does: another node's endpoints, the node's spec, labels.
func TestOwnStatusWriteWakesNoReconcile(t *testing.T) {
	a := &Agent{cfg: Config{NodeName: "node-1"}}
	vr := func(name string, gen int64, endpoints int) *corev1alpha1.VirtualRouter {
		v := &corev1alpha1.VirtualRouter{ObjectMeta: metav1.ObjectMeta{Name: name, Generation: gen}}
		for range endpoints {
			v.Status.Endpoints = append(v.Status.Endpoints, corev1alpha1.Endpoint{Network: "default/a"})
		}
		return v
	}
	labelled := vr("node-1", 1, 1)
	labelled.Labels = map[string]string{"x": "y"}
	for _, c := range []struct {
		name     string
		old, obj any
		own      bool
	}{
		{"own endpoints published", vr("node-1", 1, 0), vr("node-1", 1, 1), true},
		{"another node's endpoints", vr("node-2", 1, 0), vr("node-2", 1, 1), false},
		{"own spec changed", vr("node-1", 1, 1), vr("node-1", 2, 1), false},
		{"own labels changed", vr("node-1", 1, 1), labelled, false},
		{"not a VirtualRouter", &corev1alpha1.VirtualNetwork{}, &corev1alpha1.VirtualNetwork{}, false},
	} {
		if got := a.ownStatusWrite(c.old, c.obj); got != c.own {
			t.Errorf("%s: ownStatusWrite = %v, want %v", c.name, got, c.own)
		}
	}
}
