package agent

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

func TestSignalsWakeTheKeysListenersOnce(t *testing.T) {
	s := newSignals()
	a, b := types.NamespacedName{Namespace: "ns", Name: "a"}, types.NamespacedName{Namespace: "ns", Name: "b"}
	chA1, _ := s.listen(a)
	chA2, _ := s.listen(a)
	chB, stopB := s.listen(b)
	s.notify(a)
	for i, ch := range []<-chan struct{}{chA1, chA2} {
		select {
		case <-ch:
		case <-time.After(time.Second):
			t.Fatalf("listener %d of a not woken", i)
		}
	}
	select {
	case <-chB:
		t.Fatal("a's change woke b's listener")
	default:
	}
	stopB()
	s.notify(b) // no listener left: nothing to close twice
	if len(s.waiters) != 0 {
		t.Fatalf("listeners left after notify and stop: %v", s.waiters)
	}
	_, stopA := s.listen(a)
	s.notify(a)
	stopA() // after notify: harmless
}
