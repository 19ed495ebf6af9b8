package chaos

import (
	"context"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("Kontrail's ownership invariants under faults", Ordered, func() {
	AfterAll(func() {
		if rec != nil && theLab != nil {
			writeSummary()
		}
	})

	It("sets up the workload: two NAD networks, a pinger on each node pinging the other on every network, two churning Deployments", func(ctx SpecContext) {
		interrupt = ctx
		defer func() { interrupt = context.Background() }()
		k("create", "namespace", ns)
		var yamls []string
		for _, n := range nads {
			yamls = append(yamls, cidrNAD(n.name, n.cidr))
		}
		apply(strings.Join(yamls, "---\n"))
		for _, n := range nads {
			Eventually(func() string {
				out, _ := run("-n", ns, "get", "vn", n.name, "--ignore-not-found", "-o", "jsonpath={.status.state}/{.status.virtualNetworkNetworkId}")
				return out
			}).Should(MatchRegexp(`^Success/\d+$`), "the VirtualNetwork of NAD %s", n.name)
		}
		Expect(startWatchers()).To(Succeed())

		apply(pingerPod(pinger1, node1) + "---\n" + pingerPod(pinger2, node2))
		for _, d := range deployments {
			apply(deployment(d, 2))
		}
		k("-n", ns, "wait", "--for=condition=Ready", "pod/"+pinger1, "pod/"+pinger2, "--timeout=3m")
		addrs := map[string]map[string]string{}
		for _, p := range []string{pinger1, pinger2} {
			st, err := parseStatus(k("-n", ns, "get", "pod", p, "-o", `jsonpath={.metadata.annotations.k8s\.v1\.cni\.cncf\.io/network-status}`))
			Expect(err).NotTo(HaveOccurred())
			addrs[p] = map[string]string{}
			for _, network := range networks() {
				e := statusOn(st, network)
				Expect(e).NotTo(BeNil(), "%s on %s", p, network)
				Expect(e.IPs).NotTo(BeEmpty(), "%s on %s", p, network)
				addrs[p][network] = e.IPs[0]
			}
		}
		By("the pingers reach each other on every network before the faults start")
		for _, from := range []string{pinger1, pinger2} {
			to := pinger2
			if from == pinger2 {
				to = pinger1
			}
			for _, network := range networks() {
				Eventually(func() string {
					out, _ := run("-n", ns, "exec", from, "--", "ping", "-c", "1", "-W", "1", addrs[to][network])
					return out
				}).Should(ContainSubstring("1 packets received"), "%s -> %s on %s (%s)", from, to, network, addrs[to][network])
			}
		}
		Expect(startPings(addrs)).To(Succeed())
		logf("setup: pinger addresses %v", addrs)

		if err := waitFor("the workload settled", cfg.settle, settledState); err != nil {
			rec.mu.Lock()
			rec.notSettled = append(rec.notSettled, "setup: "+err.Error())
			rec.mu.Unlock()
			dumpState("setup-not-settled")
		}
		checkInvariants()
		readPings()
	}, NodeTimeout(12*time.Minute))

	It("injects faults cycle after cycle while pods come and go, and checks every running pod after each", func(ctx SpecContext) {
		interrupt = ctx
		defer func() { interrupt = context.Background() }()
		deadline, _ := ctx.Deadline()
		for n := 1; ctx.Err() == nil; n++ {
			rec.mu.Lock()
			lifecycles := rec.lifecycles
			minKills := 1 << 30
			for _, c := range components {
				minKills = min(minKills, rec.kills[c.name])
			}
			rec.mu.Unlock()
			if !cfg.long && n > cfg.cycles {
				break
			}
			if cfg.long && lifecycles >= cfg.minLifecycles && minKills >= cfg.minKills {
				logf("long run done: %d pod lifecycles, at least %d kills of each component", lifecycles, minKills)
				break
			}
			if cfg.long && n > cfg.maxCycles {
				rec.note("stopped after %d cycles (the long run's bound): %d lifecycles, fewest kills of a component %d", cfg.maxCycles, lifecycles, minKills)
				break
			}
			// A cycle takes at most its settle bound plus its faults (a
			// restart of the apiserver waits up to 2 min).
			if !deadline.IsZero() && time.Until(deadline) < cfg.settle+3*time.Minute {
				rec.note("stopped before cycle %d: %s left of the spec's time, a cycle may take %s", n, time.Until(deadline).Round(time.Second), cfg.settle+3*time.Minute)
				break
			}
			runCycle(ctx, n)
		}
	}, NodeTimeout(cyclesTimeout()))

	It("deletes its pods and networks, and nothing is left of them (invariant 4)", func(ctx SpecContext) {
		interrupt = ctx
		defer func() { interrupt = context.Background() }()
		dumpState("after-the-cycles")
		rec.setCycle(-1)
		stopPings()
		k("-n", ns, "delete", "deployments", "--all", "--wait=false")
		if out, err := run("-n", ns, "delete", "pods", "--all", "--wait=true", "--timeout=2m"); err != nil {
			rec.note("deleting the pods: %v: %s", err, out)
		}
		if err := waitFor("every pod of the suite gone", 2*time.Minute, func() (bool, string) {
			out, err := runOut("-n", ns, "get", "pods", "-o", "name")
			return err == nil && strings.TrimSpace(out) == "", out
		}); err != nil {
			rec.violate("inv4/pods", violation{Invariant: "4 (nothing leaks)", Expected: "every pod gone after its deletion", Seen: err.Error()})
		}
		k("-n", ns, "delete", "net-attach-def", "--all", "--wait=false")
		k("delete", "namespace", ns, "--wait=false")
		if err := waitFor("namespace "+ns+" gone", 3*time.Minute, func() (bool, string) {
			out, err := runOut("get", "namespace", ns, "--ignore-not-found", "-o", "name")
			if err == nil && strings.TrimSpace(out) == "" {
				return true, ""
			}
			held, _ := runOut("get", "namespace", ns, "--ignore-not-found", "-o",
				`jsonpath={range .status.conditions[?(@.status=="True")]}{.message}; {end}`)
			objects, _ := runOut("-n", ns, "get", "network-attachment-definitions,virtualnetworks,subnets,routinginstances,virtualmachineinterfaces",
				"-o", "custom-columns=KIND:.kind,NAME:.metadata.name,FINALIZERS:.metadata.finalizers,STATE:.status.state,OBSERVATION:.status.observation")
			return false, held + "\n" + objects
		}); err != nil {
			rec.violate("inv4/namespace", violation{Invariant: "4 (nothing leaks)", Pod: "namespace " + ns,
				Expected: "the namespace and its networks gone once its pods are", Seen: err.Error()})
		}
		var left []string
		if err := waitFor("nothing of the suite's pods left", 60*time.Second, func() (bool, string) {
			left = theLab.Leftovers(context.Background(), 2)
			return len(left) == 0, strings.Join(left, "; ")
		}); err != nil {
			for _, l := range left {
				rec.violate("inv4/"+l, violation{Invariant: "4 (nothing leaks)", Pod: l, Expected: "nothing of the suite's pods and networks", Seen: "still there 60 s after they were all deleted"})
			}
		}
	}, NodeTimeout(10*time.Minute))

	It("found no violation of the ownership invariants, and the system recovered after every cycle", func() {
		vs := rec.snapshotViolations()
		var lines []string
		for _, v := range vs {
			lines = append(lines, fmt.Sprintf("invariant %s: %s on %s: expected %s, seen %s", v.Invariant, v.Pod, v.Network, v.Expected, v.Seen))
		}
		Expect(lines).To(BeEmpty(), "%d violations (the summary has the evidence)", len(vs))
		rec.mu.Lock()
		notSettled := append([]string(nil), rec.notSettled...)
		rec.mu.Unlock()
		Expect(notSettled).To(BeEmpty(), "the system did not recover in time after these cycles")
	})
})

// cyclesTimeout bounds the cycles: the short run fits in make test's
// 30-minute go test timeout with the lab's bring-up and teardown; the
// long run in make chaos's.
// (Decorators are evaluated when the tree is built, before BeforeSuite
// loads the settings: CHAOS_LONG is read here again.)
func cyclesTimeout() time.Duration {
	if longFromEnv() {
		return 5*time.Hour + 15*time.Minute
	}
	return 16 * time.Minute
}

// runCycle is one cycle: the churn, its faults, then the wait for the system to settle and the checks.
func runCycle(ctx SpecContext, n int) {
	rec.setCycle(n)
	kinds := drawFaults()
	logf("cycle %d: faults %s", n, strings.Join(kinds, ", "))
	// The churn first: the faults hit while its pods start and stop.
	churn(n)
	var faults []*fault
	for _, kind := range kinds {
		faults = append(faults, inject(ctx, n, kind))
	}
	start := time.Now()
	err := waitFor(fmt.Sprintf("cycle %d settled", n), cfg.settle, settledState)
	rec.settled(n, time.Now())
	if err != nil {
		rec.mu.Lock()
		rec.notSettled = append(rec.notSettled, fmt.Sprintf("cycle %d (%s): %v", n, strings.Join(kinds, ", "), err))
		rec.mu.Unlock()
		logf("cycle %d: NOT SETTLED: %v", n, err)
		dumpState(fmt.Sprintf("cycle-%d-not-settled", n))
	} else {
		logf("cycle %d: settled in %s", n, time.Since(start).Round(time.Second))
	}
	recoveryTimes(faults)
	checkInvariants()
	readPings()
	rec.mu.Lock()
	rec.cycles++
	lifecycles, violations := rec.lifecycles, len(rec.violations)
	rec.mu.Unlock()
	logf("cycle %d done: %d pod lifecycles, %d violations so far", n, lifecycles, violations)
}
