package agent

import (
	"context"
	"sync"
)

// rounds coalesces the callers of one costly run (the node's reconcile):
// every caller gets the outcome of a run that started after it asked, and
// the callers that ask while a run is going share the next one. So a
// burst of ADDs on a node costs two runs, not one per ADD, and none of
// them is answered by a run that began before its ports were added.
type rounds[T any] struct {
	run func(context.Context) T

	// running is held for the length of a run: one at a time.
	running sync.Mutex

	mu   sync.Mutex
	next *round[T]
}

type round[T any] struct {
	done    chan struct{}
	outcome T
}

func newRounds[T any](run func(context.Context) T) *rounds[T] {
	return &rounds[T]{run: run}
}

// do joins the next run, starting it if none waits, and returns its
// outcome, or ctx's error when the caller stops waiting first. The run
// goes on with ctx's values without its cancellation: the other callers
// still wait for it.
func (r *rounds[T]) do(ctx context.Context) (T, error) {
	r.mu.Lock()
	next := r.next
	if next == nil {
		next = &round[T]{done: make(chan struct{})}
		r.next = next
		go r.start(context.WithoutCancel(ctx), next)
	}
	r.mu.Unlock()
	select {
	case <-next.done:
		return next.outcome, nil
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// start waits for the run before it, closes the round to callers (later
// ones make the next round), then runs.
func (r *rounds[T]) start(ctx context.Context, this *round[T]) {
	r.running.Lock()
	defer r.running.Unlock()
	r.mu.Lock()
	r.next = nil
	r.mu.Unlock()
	this.outcome = r.run(ctx)
	close(this.done)
}
