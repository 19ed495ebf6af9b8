package lab

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/kontrail/kontrail/tests/internal/lab"
)

// The lab as `make lab` and `make demo` bring it up: Kontrail installed by
// its operator (from config/default, and from the bundle as OLM does),
// the four resources Available, the seed's vn1-pod Running with eth0 and
// eth1 as its network-status says, reaching a pod on the other node; down
// leaves nothing. Needs root (network namespaces, cgroups, containerd).
var _ = Describe("The lab", func() {
	BeforeEach(func() {
		if os.Geteuid() != 0 {
			Skip("needs root: network namespaces, cgroups, containerd")
		}
		for _, bin := range []string{"containerd", "runc", "ctr", "busybox", "nsenter"} {
			if _, err := exec.LookPath(bin); err != nil {
				Skip(bin + " not installed (Debian's containerd, runc, busybox-static; .ci/run installs them)")
			}
		}
	})

	for _, install := range []string{lab.InstallDefault, lab.InstallBundle} {
		It("installs Kontrail ("+install+") with its operator, runs the seed's vn1 pods on two nodes, and leaves nothing when down", func(ctx SpecContext) {
			repo, err := filepath.Abs("../..")
			Expect(err).NotTo(HaveOccurred())
			dir := GinkgoT().TempDir()
			l := &lab.Lab{Name: "klabs", Dir: dir, K8sBin: filepath.Join(repo, "bin", "k8s"), Subnet: "10.98.0"}
			if d := os.Getenv("KUBEBUILDER_ASSETS"); d != "" {
				l.K8sBin = d
			}
			_ = l.Down()
			DeferCleanup(func() {
				if CurrentSpecReport().Failed() {
					dumpLogs(dir)
					kept, err := l.KeepLogs()
					GinkgoWriter.Printf("the lab's logs are kept in %s (%v)\n", kept, err)
				}
				_ = l.Down()
			})

			By("up: control plane, two nodes, the operator and the four samples Available")
			start := time.Now()
			Expect(l.Up(ctx, repo, "0.1.0", 2, install)).To(Succeed())
			GinkgoWriter.Printf("lab up with Kontrail (%s) in %s\n", install, time.Since(start).Round(time.Second))
			for _, s := range lab.Samples {
				out, err := l.Kubectl(ctx, "-n", s.Namespace, "get", s.Resource,
					"-o", `jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Available")].status} {end}`)
				Expect(err).NotTo(HaveOccurred())
				Expect(strings.Fields(out)).To(HaveLen(1), s.Resource)
				Expect(out).To(HaveSuffix("=True "), s.Resource)
			}
			nodes, err := l.Kubectl(ctx, "get", "nodes", "-o", `jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status} {end}`)
			Expect(err).NotTo(HaveOccurred())
			Expect(nodes).To(Equal("True True "), "both nodes are Ready once the agents installed the CNI")

			By("the seed's vn1-pod and a second pod on vn1, on the other node")
			Expect(l.ApplySeed(ctx, repo)).To(Succeed())
			where := map[string]string{}
			for _, p := range []string{lab.SeedPod, lab.OtherPod} {
				where[p], err = l.Kubectl(ctx, "get", "pod", p, "-o", "jsonpath={.spec.nodeName}")
				Expect(err).NotTo(HaveOccurred())
			}
			Expect(where[lab.SeedPod]).NotTo(Equal(where[lab.OtherPod]))

			By("vn1-pod has eth0 on the pod network and eth1 on vn1, with the addresses and MACs of its network-status")
			status, err := l.NetworkStatus(ctx, lab.SeedPod)
			Expect(err).NotTo(HaveOccurred())
			Expect(status).To(HaveLen(2))
			Expect(status[0].Interface).To(Equal("eth0"))
			Expect(status[0].Default).To(BeTrue())
			Expect(status[1].Interface).To(Equal("eth1"))
			Expect(status[1].Name).To(Equal("default/vn1"))
			addrs, err := l.Kubectl(ctx, "exec", lab.SeedPod, "--", "ip", "-o", "addr", "show")
			Expect(err).NotTo(HaveOccurred())
			links, err := l.Kubectl(ctx, "exec", lab.SeedPod, "--", "ip", "-o", "link", "show")
			Expect(err).NotTo(HaveOccurred())
			for _, s := range status {
				Expect(s.IPs).To(HaveLen(1))
				Expect(addrs).To(MatchRegexp(`\d+: %s\s+inet %s/`, s.Interface, strings.ReplaceAll(s.IPs[0], ".", `\.`)))
				Expect(links).To(MatchRegexp(`\d+: %s@\S+: .*link/ether %s `, s.Interface, s.Mac))
			}

			By("vn1-pod reaches vn1-pod-2 across nodes, on vn1 and on the pod network")
			other, err := l.NetworkStatus(ctx, lab.OtherPod)
			Expect(err).NotTo(HaveOccurred())
			Expect(other).To(HaveLen(2))
			for _, s := range other {
				out, err := l.Kubectl(ctx, "exec", lab.SeedPod, "--", "ping", "-c", "2", "-W", "2", s.IPs[0])
				Expect(err).NotTo(HaveOccurred(), out)
				Expect(out).To(ContainSubstring("2 packets received"))
			}

			By("no Kontrail component was refused a request (events of its libraries included)")
			for _, ns := range []string{lab.OperatorNamespace, "contrail-system", "contrail"} {
				pods, err := l.Kubectl(ctx, "-n", ns, "get", "pods", "-o", "name")
				Expect(err).NotTo(HaveOccurred())
				for _, pod := range strings.Fields(pods) {
					logs, err := l.Kubectl(ctx, "-n", ns, "logs", pod, "--all-containers")
					Expect(err).NotTo(HaveOccurred())
					for _, line := range strings.Split(logs, "\n") {
						Expect(line).NotTo(ContainSubstring("forbidden"), "%s/%s was refused a request", ns, pod)
					}
				}
			}

			By("down leaves no process, namespace, link, cgroup, mount or state of the lab")
			podNetns := l.PodNetns()
			Expect(podNetns).To(HaveLen(4), "vn1-pod's, vn1-pod-2's and CoreDNS's two pods' network namespaces")
			sockets := l.AgentSockets()
			Expect(sockets).To(HaveLen(2), "one agent socket per node")
			for _, socket := range sockets {
				info, err := os.Stat(socket)
				Expect(err).NotTo(HaveOccurred(), "the agent serves on its node's socket")
				Expect(info.Mode().Perm()).To(Equal(os.FileMode(0o600)), socket)
			}
			Expect(l.Down()).To(Succeed())
			Expect(leftovers(dir, "klabs", podNetns)).To(BeEmpty())
			for _, socket := range sockets {
				Expect(socket).NotTo(BeAnExistingFile(), "down removes the agents' sockets")
			}
		}, SpecTimeout(10*time.Minute))
	}
})

// dumpLogs writes the tails of the lab's logs to the spec's output.
func dumpLogs(dir string) {
	logs, _ := filepath.Glob(filepath.Join(dir, "logs", "*.log"))
	for _, f := range logs {
		data, _ := os.ReadFile(f)
		GinkgoWriter.Printf("==> %s <==\n%s\n", filepath.Base(f), tail(string(data)))
	}
}
