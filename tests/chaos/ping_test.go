package chaos

import (
	"bufio"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The pingers ping each other on every network for the whole suite: in
// each pinger, one busybox `ping -i 0.2` per network to the other
// pinger's address, in a loop that starts it again when it exits (busybox
// ping exits when sending fails, e.g. on a missing route), appending to
// /tmp/ping-<network>.log; a clock loop appends "T <epoch>" to every log
// each second (ping's own interval drifts a few percent on a loaded
// machine, so sequence numbers alone do not tell the time). The suite
// reads the logs' new bytes after every cycle: what is lost is what a run
// sent (its statistics, or its highest sequence number when it died
// without them) minus what came back; an outage is a gap of at least five
// sequence numbers (a second) between replies, or a ping that died, from
// the last reply before it to the first after it, to the second.

const pingInterval = 200 * time.Millisecond

// outage is a stretch without replies.
type outage struct {
	from, to time.Time
	faults   []string
}

func (o outage) length() time.Duration { return o.to.Sub(o.from) }

// pingStream is one pinger's pings to the other on one network.
type pingStream struct {
	from, to, network, peer, file string

	offset int64 // bytes of the log consumed (whole lines)

	// clock is the last "T <epoch>" line read: the time of what follows.
	clock time.Time
	// the run being read: the sequence numbers it got back.
	inRun   bool
	runMax  int
	runGot  map[int]bool
	runSent int // from its statistics, -1 until then

	sent, received int
	estimated      bool      // a run ended without statistics
	lastReply      time.Time // when the last reply came (to the second)
	lastSeq        int       // its sequence number in its run
	outages        []outage
	errors         map[string]int
	runs           int
}

var (
	replyLine = regexp.MustCompile(`bytes from \S+: seq=(\d+) `)
	statsLine = regexp.MustCompile(`^(\d+) packets transmitted, (\d+) packets received`)
)

// pingStreams are the suite's streams: pinger-1 -> pinger-2 and back, on
// every network.
var pingStreams []*pingStream

// startPings starts the ping loops in both pingers (addrs: each pinger's
// address per network).
func startPings(addrs map[string]map[string]string) error {
	pods := []string{pinger1, pinger2}
	for i, from := range pods {
		to := pods[1-i]
		var loops []string
		for _, network := range networks() {
			s := &pingStream{from: from, to: to, network: network, peer: addrs[to][network],
				file: "/tmp/ping-" + shortNet(network) + ".log", runSent: -1, errors: map[string]int{}}
			pingStreams = append(pingStreams, s)
			loops = append(loops, fmt.Sprintf(`(while [ ! -e /tmp/ping-stop ]; do echo "START $(date +%%s)"; ping -i 0.2 %s; sleep 1; done) </dev/null >>%s 2>&1 &`, s.peer, s.file))
		}
		var files []string
		for _, s := range pingStreams[len(pingStreams)-len(networks()):] {
			files = append(files, s.file)
		}
		loops = append(loops, fmt.Sprintf(`(while [ ! -e /tmp/ping-stop ]; do t=$(date +%%s); for f in %s; do echo "T $t" >>$f; done; sleep 1; done) </dev/null >/dev/null 2>&1 &`,
			strings.Join(files, " ")))
		// (busybox's image has no /tmp.)
		if out, err := runOut("-n", ns, "exec", from, "--", "sh", "-c", "mkdir -p /tmp; rm -f /tmp/ping-stop; "+strings.Join(loops, " ")); err != nil {
			return fmt.Errorf("start the pings in %s: %w: %s", from, err, out)
		}
	}
	return waitFor("a reply in every ping stream", time.Minute, func() (bool, string) {
		readPings()
		var silent []string
		for _, s := range pingStreams {
			if s.received+len(s.runGot) == 0 {
				silent = append(silent, fmt.Sprintf("%s -> %s on %s (%s: %d runs, errors %v)", s.from, s.to, shortNet(s.network), s.file, s.runs, s.errors))
			}
		}
		return len(silent) == 0, "no reply yet: " + strings.Join(silent, "; ")
	})
}

// readPings reads what the ping logs gained since the last read.
func readPings() {
	byPod := map[string][]*pingStream{}
	for _, s := range pingStreams {
		byPod[s.from] = append(byPod[s.from], s)
	}
	for pod, streams := range byPod {
		var cmd []string
		for _, s := range streams {
			cmd = append(cmd, fmt.Sprintf(`s=$(cat %[1]s 2>/dev/null | wc -c); echo "@@ %[1]s $s"; if [ "$s" -gt %[2]d ]; then tail -c +%[3]d %[1]s | head -c $((s-%[2]d)); fi`,
				s.file, s.offset, s.offset+1))
		}
		out, err := runOut("-n", ns, "exec", pod, "--", "sh", "-c", strings.Join(cmd, "; "))
		if err != nil {
			rec.note("could not read the ping logs of %s: %v", pod, err)
			continue
		}
		for len(out) > 0 {
			header, rest, ok := strings.Cut(out, "\n")
			if !ok || !strings.HasPrefix(header, "@@ ") {
				rec.note("unexpected ping log output from %s: %.200q", pod, out)
				break
			}
			f := strings.Fields(header)
			if len(f) != 3 {
				rec.note("unexpected ping log header from %s: %q", pod, header)
				break
			}
			size, _ := strconv.ParseInt(f[2], 10, 64)
			var s *pingStream
			for _, c := range streams {
				if c.file == f[1] {
					s = c
				}
			}
			n := size - s.offset
			if n < 0 || int64(len(rest)) < n {
				n = 0
			}
			chunk := rest[:n]
			out = rest[n:]
			// Whole lines only: the rest is read next time.
			if i := strings.LastIndexByte(chunk, '\n'); i >= 0 {
				s.consume(chunk[:i+1])
				s.offset += int64(i + 1)
			}
		}
	}
}

// consume parses whole lines of a ping log.
func (s *pingStream) consume(text string) {
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "T "), strings.HasPrefix(line, "START "):
			_, v, _ := strings.Cut(line, " ")
			epoch, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				continue
			}
			s.clock = time.Unix(epoch, 0)
			if strings.HasPrefix(line, "START ") {
				s.endRun()
				s.inRun, s.runMax, s.runGot, s.runSent = true, -1, map[int]bool{}, -1
				s.runs++
			}
		case replyLine.MatchString(line):
			seq, _ := strconv.Atoi(replyLine.FindStringSubmatch(line)[1])
			if !s.inRun || s.runGot[seq] {
				continue // a duplicate
			}
			s.runGot[seq] = true
			first := len(s.runGot) == 1
			if !s.lastReply.IsZero() && ((first && s.clock.Sub(s.lastReply) > time.Second) || (!first && seq-s.lastSeq >= 5)) {
				s.outages = append(s.outages, outage{from: s.lastReply, to: s.clock})
			}
			if seq > s.runMax || first {
				s.lastReply, s.lastSeq = s.clock, seq
			}
			s.runMax = max(s.runMax, seq)
		case statsLine.MatchString(line):
			m := statsLine.FindStringSubmatch(line)
			s.runSent, _ = strconv.Atoi(m[1])
			// Pings that went unanswered until it stopped.
			if s.inRun && !s.lastReply.IsZero() && s.runSent-1-s.runMax >= 5 {
				s.outages = append(s.outages, outage{from: s.lastReply, to: s.clock})
			}
		case strings.HasPrefix(line, "PING "), strings.HasPrefix(line, "---"), strings.Contains(line, "round-trip"), strings.TrimSpace(line) == "":
		default:
			if len(s.errors) < 20 || s.errors[line] > 0 {
				s.errors[line]++
			}
		}
	}
}

// endRun adds a finished run's counts: sent from its statistics, or at
// least its highest sequence number when it died without them.
func (s *pingStream) endRun() {
	if !s.inRun {
		return
	}
	sent := s.runSent
	if sent < 0 {
		sent = s.runMax + 1
		s.estimated = true
	}
	s.sent += sent
	s.received += len(s.runGot)
	s.inRun = false
}

// stopPings stops the loops (a stop file, then SIGINT: ping prints its
// statistics) and reads the logs to their end; the time since the last
// reply of each stream, when pings went unanswered until then, is its
// last outage.
func stopPings() {
	for _, pod := range []string{pinger1, pinger2} {
		if out, err := runOut("-n", ns, "exec", pod, "--", "sh", "-c", "touch /tmp/ping-stop; killall -INT ping"); err != nil {
			rec.note("could not stop the pings in %s: %v: %s", pod, err, out)
		}
	}
	// ping prints its statistics on SIGINT and the loop ends: wait until
	// every log has them.
	_ = waitFor("the pingers' statistics", 30*time.Second, func() (bool, string) {
		readPings()
		var waiting []string
		for _, s := range pingStreams {
			if s.inRun && s.runSent < 0 {
				waiting = append(waiting, s.from+" "+s.file)
			}
		}
		return len(waiting) == 0, "no statistics yet in " + strings.Join(waiting, ", ")
	})
	for _, s := range pingStreams {
		s.endRun()
	}
}

// pingReport is the pings' part of the summary: per network both
// directions, lost pings and the longest outage with its faults.
func pingReport() string {
	var b strings.Builder
	for _, network := range networks() {
		var sent, received, outages int
		var longest outage
		var longestStream *pingStream
		estimated := false
		for _, s := range pingStreams {
			if s.network != network {
				continue
			}
			sent += s.sent
			received += s.received
			outages += len(s.outages)
			estimated = estimated || s.estimated
			for _, o := range s.outages {
				if o.length() > longest.length() {
					longest, longestStream = o, s
				}
			}
		}
		lost := sent - received
		approx := ""
		if estimated {
			approx = " (a ping that died without statistics counted up to its last reply)"
		}
		fmt.Fprintf(&b, "  %-12s sent %d, lost %d (%.2f%%)%s, %d outages over 1 s\n", shortNet(network), sent, lost, pct(lost, sent), approx, outages)
		if longestStream != nil {
			faults := rec.activeAt(longest.from, longest.to)
			if len(faults) == 0 {
				faults = []string{"none"}
			}
			if len(faults) > 6 {
				faults = append(faults[:6], fmt.Sprintf("and %d more", len(faults)-6))
			}
			fmt.Fprintf(&b, "               longest outage %s (%s -> %s, %s to %s); faults active: %s\n", longest.length().Round(100*time.Millisecond),
				longestStream.from, longestStream.to, longest.from.Format("15:04:05"), longest.to.Format("15:04:05"), strings.Join(faults, "; "))
		}
		for _, s := range pingStreams {
			if s.network != network || len(s.errors) == 0 {
				continue
			}
			var errs []string
			for e, n := range s.errors {
				errs = append(errs, fmt.Sprintf("%q x%d", e, n))
			}
			sort.Strings(errs)
			fmt.Fprintf(&b, "               %s -> %s: ping restarted %d times; its errors: %s\n", s.from, s.to, s.runs-1, strings.Join(errs, ", "))
		}
	}
	b.WriteString(outageReport())
	return b.String()
}

// outageReport lists every outage over 1 s with the faults active then,
// and per fault kind how many outages it was active in and how long they
// lasted in all: what each fault does to a running pod's traffic.
func outageReport() string {
	type seen struct {
		s *pingStream
		o outage
	}
	var all []seen
	for _, s := range pingStreams {
		for _, o := range s.outages {
			all = append(all, seen{s, o})
		}
	}
	if len(all) == 0 {
		return ""
	}
	sort.Slice(all, func(i, j int) bool { return all[i].o.from.Before(all[j].o.from) })
	var b strings.Builder
	type tally struct {
		n     int
		total time.Duration
	}
	byKind := map[string]*tally{}
	fmt.Fprintf(&b, "outages over 1 s (%d), with the faults active then:\n", len(all))
	for _, a := range all {
		faults := rec.activeAt(a.o.from, a.o.to)
		kinds := map[string]bool{}
		for _, f := range faults {
			if fields := strings.Fields(f); len(fields) > 0 {
				kinds[fields[0]] = true
			}
		}
		if len(kinds) == 0 {
			kinds["none"] = true
		}
		for k := range kinds {
			if byKind[k] == nil {
				byKind[k] = &tally{}
			}
			byKind[k].n++
			byKind[k].total += a.o.length()
		}
		names := make([]string, 0, len(kinds))
		for k := range kinds {
			names = append(names, k)
		}
		sort.Strings(names)
		fmt.Fprintf(&b, "  %s %s -> %s %s to %s (%s): %s\n", shortNet(a.s.network), a.s.from, a.s.to, a.o.from.Format("15:04:05"),
			a.o.to.Format("15:04:05"), a.o.length().Round(100*time.Millisecond), strings.Join(names, ", "))
	}
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	fmt.Fprintf(&b, "fault kinds active during outages (outages, their total length):\n")
	for _, k := range kinds {
		fmt.Fprintf(&b, "  %-22s %d, %s\n", k, byKind[k].n, byKind[k].total.Round(100*time.Millisecond))
	}
	return b.String()
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}
