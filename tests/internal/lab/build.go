package lab

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Images the lab's nodes import. Component images carry the names the
// operator renders (operator/cmd flags' defaults); the pause image is the
// nodes' containerd sandbox image; busybox is what the seeds' pods run.
const (
	Registry     = "kontrail.io"
	PauseImage   = "kontrail.io/pause:lab"
	BusyboxImage = "docker.io/library/busybox:latest"
	// The images of seeds 004 and 003, built as busybox (with a bash).
	ToolboxImage = "gcr.io/google-containers/toolbox:latest"
	UbuntuImage  = "docker.io/library/ubuntu-upstart:latest"
)

// component is a Go binary and the image that runs it.
type component struct {
	module, pkg, binary string
}

var components = []component{
	{".", "./operator/cmd", "kontrail-operator"},
	{"components/apiserver", "./cmd/apiserver", "kontrail-apiserver"},
	{"components/controller", "./cmd/controller", "kontrail-controller"},
	{"components/kubemanager", "./cmd/kubemanager", "kontrail-kubemanager"},
	{"vrouter", "./cmd/agent", "kontrail-vrouter-agent"},
	{"cni", "./cmd/contrail-k8s-cni", "contrail-k8s-cni"},
	// containerd's CRI plugs each sandbox's lo with the reference loopback
	// plugin; the agent installs it on nodes that have none.
	{"cni", "github.com/containernetworking/plugins/plugins/main/loopback", "loopback"},
	{"tests", "./cmd/kontrail-pause", "kontrail-pause"},
	{"tests", "./cmd/kontrail-bash", "kontrail-bash"},
	{"tests", "./cmd/kontrail-registry", "kontrail-registry"},
	// The external host's HTTP server (Lab.ExternalIP).
	{"tests", "./cmd/kontrail-echo", "kontrail-echo"},
}

// BuildImages builds every binary statically into dir/bin and every image
// tarball into dir/images, and returns the tarballs.
func BuildImages(repo, dir, version string) ([]string, error) {
	bin := filepath.Join(dir, "bin")
	for _, c := range components {
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(bin, c.binary), c.pkg)
		cmd.Dir = filepath.Join(repo, c.module)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build %s: %v\n%s", c.pkg, err, out)
		}
	}
	// Components run as distroless' nonroot user, as build/Dockerfile's
	// images do (their pods ask runAsNonRoot); the agent as root.
	one := func(binary string) Image {
		return Image{Ref: Registry + "/" + binary + ":" + version, Entrypoint: []string{"/" + binary}, User: "65532:65532",
			Files: []File{{Path: "/" + binary, Source: filepath.Join(bin, binary)}}}
	}
	images := []Image{one("kontrail-operator"), one("kontrail-apiserver"), one("kontrail-controller"), one("kontrail-kubemanager")}
	agent := one("kontrail-vrouter-agent")
	agent.User = ""
	// The agent installs the plugin it carries (its --cni-binary), and
	// loopback where the node has none (its --cni-loopback-binary).
	agent.Files = append(agent.Files, File{Path: "/contrail-k8s-cni", Source: filepath.Join(bin, "contrail-k8s-cni")},
		File{Path: "/loopback", Source: filepath.Join(bin, "loopback")})
	images = append(images, agent, Image{Ref: PauseImage, Entrypoint: []string{"/pause"},
		Files: []File{{Path: "/pause", Source: filepath.Join(bin, "kontrail-pause")}}})
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		return nil, fmt.Errorf("busybox not found: install Debian's busybox-static")
	}
	bb, err := Busybox(BusyboxImage, busybox)
	if err != nil {
		return nil, err
	}
	bb.Files = append(bb.Files, File{Path: "/bin/bash", Source: filepath.Join(bin, "kontrail-bash")})
	images = append(images, bb)
	// The seeds' other workload images, as busybox with their names: a
	// seed's YAML applies as its user typed it.
	toolbox := bb
	toolbox.Ref = ToolboxImage
	ubuntu := bb
	ubuntu.Ref = UbuntuImage
	// ubuntu-upstart's own command is its init, which runs until stopped.
	ubuntu.Cmd = []string{"/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 3600 & wait; done"}
	images = append(images, toolbox, ubuntu)
	var tarballs []string
	for _, img := range images {
		out := filepath.Join(dir, "images", filepath.Base(imageFile(img.Ref)))
		if err := Build(img, out); err != nil {
			return nil, err
		}
		tarballs = append(tarballs, out)
	}
	return tarballs, nil
}

// imageFile names an image's tarball after its reference.
func imageFile(ref string) string {
	out := []byte(ref)
	for i, c := range out {
		if c == '/' || c == ':' {
			out[i] = '_'
		}
	}
	return string(out) + ".tar"
}
