package lab

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
)

// The images Kubernetes' own e2e suite runs in the [sig-network]
// [Conformance] tests (e2e.test --list-images names every image of the
// suite; these are the ones the selected tests use), built without a
// registry and named as upstream names them, so that e2e.test runs with
// its default image list (no KUBE_TEST_REPO_LIST): the nodes have them
// imported, and the lab registry, the nodes' mirror of registry.k8s.io,
// serves them.
const (
	// AgnhostImage is test/utils/image/manifest.go's Agnhost at v1.37.2.
	AgnhostImage = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
	// GlibcDNSTestingImage is its GlibcDnsTesting (Debian bookworm's dnsutils).
	GlibcDNSTestingImage = "registry.k8s.io/e2e-test-images/glibc-dns-testing:2.1.1"
	// E2EBusyboxImage is its BusyBox.
	E2EBusyboxImage = "registry.k8s.io/e2e-test-images/busybox:1.37.0-2"
	// E2EPauseImage is its Pause.
	E2EPauseImage = "registry.k8s.io/pause:3.10.2"
)

// ConformanceImages are the e2e suite's images for the lab: agnhost (the
// binary built from k8s.io/kubernetes/test/images/agnhost at the lab's
// version, in e2eBin) with the userland its tests exec (upstream's is
// Alpine with bind-tools, curl, netcat, iproute2, bash; here busybox's
// applets and Debian's curl, dig, getent, netcat-openbsd, ss and bash with
// the libraries they load, and CoreDNS),
// glibc-dns-testing (upstream's is Debian bookworm with dnsutils: the same
// binaries as this machine's), busybox and pause.
func (l *Lab) ConformanceImages(e2eBin string) ([]Image, error) {
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		return nil, fmt.Errorf("busybox not found: install Debian's busybox-static")
	}
	bb, err := Busybox(E2EBusyboxImage, busybox)
	if err != nil {
		return nil, err
	}
	// The tools the tests exec, as upstream's image has them: netcat is
	// OpenBSD's (busybox's has no -u, -v or -t, and a static busybox
	// resolves no name), bash and ss (iproute2) besides.
	var tools []File
	for _, bin := range []struct{ name, pkg, path string }{{"curl", "curl", "/usr/bin/curl"}, {"dig", "bind9-dnsutils", "/usr/bin/dig"},
		{"getent", "libc-bin", "/usr/bin/getent"}, {"nc.openbsd", "netcat-openbsd", "/usr/bin/nc"}, {"ss", "iproute2", "/usr/bin/ss"},
		{"bash", "bash", "/bin/bash"},
		// Debian's busybox-static runs its own applets from its sh whatever
		// PATH says (its nc, not OpenBSD's): sh is dash, as Debian's is.
		{"dash", "dash", "/bin/sh"}} {
		path, err := exec.LookPath(bin.name)
		if err != nil {
			return nil, fmt.Errorf("%s not found: install Debian's %s (the e2e suite's images run it)", bin.name, bin.pkg)
		}
		files, err := HostBinary(path, bin.path)
		if err != nil {
			return nil, err
		}
		tools = append(tools, files...)
	}
	etc := filepath.Join(l.Dir, "conformance", "etc")
	if err := os.MkdirAll(etc, 0o755); err != nil {
		return nil, err
	}
	// glibc's resolver reads hosts from /etc/hosts (the kubelet's) and DNS:
	// getent hosts, the DNS tests' /etc/hosts check, needs both.
	nsswitch := filepath.Join(etc, "nsswitch.conf")
	if err := os.WriteFile(nsswitch, []byte("hosts: files dns\n"), 0o644); err != nil {
		return nil, err
	}
	empty := filepath.Join(etc, "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		return nil, err
	}
	userland := append(append([]File{}, bb.Files...), tools...)
	userland = append(userland, File{Path: "/etc/nsswitch.conf", Source: nsswitch, Mode: 0o644},
		File{Path: "/coredns", Source: filepath.Join(l.K8sBin, "coredns")})

	agnhost := filepath.Join(e2eBin, "agnhost")
	if _, err := os.Stat(agnhost); err != nil {
		return nil, fmt.Errorf("agnhost: %w (make conformance builds it with hack/build-conformance.sh)", err)
	}
	src, err := agnhostSource(e2eBin)
	if err != nil {
		return nil, err
	}
	agnhostFiles := append(append([]File{}, userland...),
		File{Path: "/agnhost", Source: agnhost},
		// The entrypoint-tester tests run the image with agnhost-2 as its command.
		File{Path: "/agnhost-2", Link: "agnhost"},
		// netexec's uploads; porter's TLS pair, at the paths upstream's image has them.
		File{Path: "/uploads/.keep", Source: empty, Mode: 0o644},
		File{Path: "/localhost.crt", Source: filepath.Join(src, "porter", "localhost.crt"), Mode: 0o644},
		File{Path: "/localhost.key", Source: filepath.Join(src, "porter", "localhost.key"), Mode: 0o644})
	return []Image{
		{Ref: AgnhostImage, Entrypoint: []string{"/agnhost"}, Cmd: []string{"pause"}, Files: unique(agnhostFiles)},
		{Ref: GlibcDNSTestingImage, Cmd: []string{"/bin/sh"}, Files: unique(userland)},
		{Ref: E2EBusyboxImage, Cmd: []string{"sh"}, Files: bb.Files},
		{Ref: E2EPauseImage, Entrypoint: []string{"/pause"}, Files: []File{{Path: "/pause", Source: l.path("bin", "kontrail-pause")}}},
	}, nil
}

// agnhostSource is agnhost's source directory (its porter's TLS pair),
// written by hack/build-conformance.sh next to the binaries.
func agnhostSource(e2eBin string) (string, error) {
	data, err := os.ReadFile(filepath.Join(e2eBin, "agnhost.src"))
	if err != nil {
		return "", fmt.Errorf("agnhost's source directory: %w (hack/build-conformance.sh writes it)", err)
	}
	dir := string(data)
	for len(dir) > 0 && (dir[len(dir)-1] == '\n' || dir[len(dir)-1] == ' ') {
		dir = dir[:len(dir)-1]
	}
	return dir, nil
}

// unique keeps the last file of each path (a library two tools load is
// in the layer once).
func unique(files []File) []File {
	byPath := map[string]File{}
	for _, f := range files {
		byPath[f.Path] = f
	}
	out := make([]File, 0, len(byPath))
	for _, f := range byPath {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// BuildConformanceImages builds ConformanceImages into the lab's images
// directory and returns the tarballs.
func (l *Lab) BuildConformanceImages(e2eBin string) ([]string, error) {
	images, err := l.ConformanceImages(e2eBin)
	if err != nil {
		return nil, err
	}
	var tarballs []string
	for _, img := range images {
		out := filepath.Join(l.Dir, "images", imageFile(img.Ref))
		if err := Build(img, out); err != nil {
			return nil, err
		}
		tarballs = append(tarballs, out)
	}
	return tarballs, nil
}
