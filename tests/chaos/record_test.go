package chaos

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// fault is one fault the suite injected.
type fault struct {
	Cycle  int
	Kind   string // kill-controller, delete-subnet, ...
	Target string // what it hit: node/pid, object name
	Start  time.Time
	// End is when the system had settled after the fault's cycle (or
	// the settle gave up): until then the fault counts as active.
	End time.Time
	// Err is set when the fault could not be injected: nothing to hit,
	// or Kontrail's admission refused it (refused).
	Err string
}

// refused: Kontrail's admission webhook denied the fault (a deletion of
// what running pods hold), which is the system defending the invariant.
func (f *fault) refused() bool {
	return strings.Contains(f.Err, "admission webhook") && strings.Contains(f.Err, "denied the request")
}

func (f *fault) String() string {
	s := fmt.Sprintf("%s %s (cycle %d, %s)", f.Kind, f.Target, f.Cycle, f.Start.Format("15:04:05"))
	switch {
	case f.refused():
		s += " [refused by admission: " + f.Err + "]"
	case f.Err != "":
		s += " [not injected: " + f.Err + "]"
	}
	return s
}

// violation is one breach of an invariant, with its evidence.
type violation struct {
	Invariant string // "1", "2", "3", "4", with what was compared
	Cycle     int
	When      time.Time
	Pod       string // namespace/name (uid, node), or the object
	Network   string
	Expected  string
	Seen      string
	Context   string // the faults of the cycle, what ran when it was seen
}

func (v violation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invariant %s, %s at %s\n", v.Invariant, cycleName(v.Cycle), v.When.Format("15:04:05.000"))
	if v.Pod != "" {
		fmt.Fprintf(&b, "    pod/object: %s\n", v.Pod)
	}
	if v.Network != "" {
		fmt.Fprintf(&b, "    network:    %s\n", v.Network)
	}
	fmt.Fprintf(&b, "    expected:   %s\n", v.Expected)
	fmt.Fprintf(&b, "    seen:       %s\n", v.Seen)
	if v.Context != "" {
		fmt.Fprintf(&b, "    faults:     %s\n", v.Context)
	}
	return b.String()
}

// recorder holds everything the summary reports. The watchers record
// from their own goroutines, hence the lock.
type recorder struct {
	mu sync.Mutex

	seed      int64
	long      bool
	start     time.Time
	cycle     int // the cycle running (0: setup, -1: teardown)
	cycles    int // cycles completed
	faults    []*fault
	kinds     map[string]int // injected faults per kind
	kills     map[string]int // SIGKILLs per component
	evictions map[string]int // forced pod deletions per component
	restarts  map[string]int // lab process restarts
	// recovery: how long each component took to run again after a kill.
	recovery map[string][]time.Duration

	violations []violation
	seen       map[string]bool // dedupe keys of violations

	// notSettled: cycles after which the system did not settle in time.
	notSettled []string
	notes      []string
	noteCount  map[string]int
	noteCycle  map[string]string

	lifecycles int // pods that reached Running and were then deleted
	podsSeen   int // distinct pod UIDs
	checks     int // kernel checks of running pods
}

func newRecorder(seed int64, long bool) *recorder {
	return &recorder{seed: seed, long: long, start: time.Now(), kinds: map[string]int{}, kills: map[string]int{},
		evictions: map[string]int{}, restarts: map[string]int{}, recovery: map[string][]time.Duration{},
		seen: map[string]bool{}, noteCount: map[string]int{}, noteCycle: map[string]string{}}
}

func (r *recorder) setCycle(c int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cycle = c
}

func (r *recorder) currentCycle() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cycle
}

func (r *recorder) addFault(f *fault) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults = append(r.faults, f)
	if f.Err == "" {
		r.kinds[f.Kind]++
	}
}

// settled closes the faults of a cycle: they were active until now.
func (r *recorder) settled(cycle int, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.faults {
		if f.Cycle == cycle && f.End.IsZero() {
			f.End = at
		}
	}
}

// activeAt lists the faults active at t: injected before it and not yet
// settled (or settled after it).
func (r *recorder) activeAt(from, to time.Time) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, f := range r.faults {
		if f.Err != "" || f.Start.After(to) {
			continue
		}
		if f.End.IsZero() || !f.End.Before(from) {
			out = append(out, f.String())
		}
	}
	return out
}

// context says what the suite was doing at t, for a violation seen then:
// the faults active then (injected, the system not yet settled), else
// those of the cycle that has just settled (the checks after a cycle),
// else the previous cycle's.
func (r *recorder) context(t time.Time) string {
	active := r.activeAt(t, t)
	r.mu.Lock()
	defer r.mu.Unlock()
	cycle := r.cycle
	if len(active) > 0 {
		// The cause may be older than what is active: a Subnet deleted
		// in the cycle before stays until its addresses are released.
		var last []string
		for _, f := range r.faults {
			if f.Err == "" && f.Cycle == cycle-1 {
				last = append(last, f.String())
			}
		}
		s := "active: " + strings.Join(active, "; ")
		if len(last) > 0 {
			s += "; the previous cycle's: " + strings.Join(last, "; ")
		}
		return s
	}
	var this, last []string
	var settled time.Time
	for _, f := range r.faults {
		if f.Err != "" {
			continue
		}
		switch f.Cycle {
		case cycle:
			this = append(this, f.String())
			settled = f.End
		case cycle - 1:
			last = append(last, f.String())
		}
	}
	switch {
	case len(this) > 0:
		return fmt.Sprintf("after the faults of cycle %d (settled at %s): %s", cycle, settled.Format("15:04:05"), strings.Join(this, "; "))
	case cycle == 0:
		return "none yet (setup)"
	case cycle == -1 && len(r.faults) > 0:
		return "none (teardown); the last fault: " + r.faults[len(r.faults)-1].String()
	case len(last) > 0:
		return fmt.Sprintf("none yet in cycle %d; the previous cycle's: %s", cycle, strings.Join(last, "; "))
	}
	return "none"
}

// violate records a violation once per key (a state seen again and
// again is one violation).
func (r *recorder) violate(key string, v violation) bool {
	if v.When.IsZero() {
		v.When = time.Now()
	}
	if v.Context == "" {
		v.Context = r.context(v.When)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen[key] {
		return false
	}
	r.seen[key] = true
	v.Cycle = r.cycle
	r.violations = append(r.violations, v)
	fmt.Fprintf(logOut, "VIOLATION %s", v.String())
	return true
}

// note records something the summary should say that is not a
// violation (a check that could not run, a run cut short); the same
// message again is counted, not repeated.
func (r *recorder) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.noteCount[msg]++; r.noteCount[msg] > 1 {
		return
	}
	r.notes = append(r.notes, msg)
	r.noteCycle[msg] = cycleName(r.cycle)
	fmt.Fprintf(logOut, "note: %s: %s\n", cycleName(r.cycle), msg)
}

func (r *recorder) count(m map[string]int, key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m[key]++
}

func (r *recorder) snapshotViolations() []violation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]violation(nil), r.violations...)
}

// byInvariant counts violations per invariant number.
func byInvariant(vs []violation) map[string]int {
	out := map[string]int{}
	for _, v := range vs {
		n, _, _ := strings.Cut(v.Invariant, " ")
		out[n]++
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// cycleName names a cycle number: 0 is the setup, -1 the teardown.
func cycleName(c int) string {
	switch c {
	case 0:
		return "setup"
	case -1:
		return "teardown"
	}
	return fmt.Sprintf("cycle %d", c)
}

// changedSince names the first violation of invariant 1 recorded for a
// pod's network ("" if none).
func (r *recorder) changedSince(uid, network string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range r.violations {
		if strings.HasPrefix(v.Invariant, "1") && v.Network == network && strings.Contains(v.Pod, uid) {
			return fmt.Sprintf(", changed in %s at %s", cycleName(v.Cycle), v.When.Format("15:04:05"))
		}
	}
	return ""
}
