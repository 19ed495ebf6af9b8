package lab

import (
	"archive/tar"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// An image built from a binary reads back with its entrypoint, the binary
// executable at its path, and the same digest when built twice.
func TestBuildImage(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "kontrail-pause")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/kontrail-pause")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	img := Image{Ref: "kontrail.io/pause:lab", Files: []File{{Path: "/pause", Source: bin}}, Entrypoint: []string{"/pause"}}
	var digests []string
	for _, out := range []string{filepath.Join(dir, "a.tar"), filepath.Join(dir, "b.tar")} {
		if err := Build(img, out); err != nil {
			t.Fatal(err)
		}
		tag, _ := name.NewTag(img.Ref)
		read, err := tarball.ImageFromPath(out, &tag)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := read.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if len(cfg.Config.Entrypoint) != 1 || cfg.Config.Entrypoint[0] != "/pause" || cfg.OS != "linux" {
			t.Errorf("config = %+v", cfg.Config)
		}
		layers, _ := read.Layers()
		if len(layers) != 1 {
			t.Fatalf("%d layers", len(layers))
		}
		rc, _ := layers[0].Uncompressed()
		tr := tar.NewReader(rc)
		found := false
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Name == "pause" && h.Mode == 0o755 && h.Typeflag == tar.TypeReg {
				found = true
			}
		}
		if !found {
			t.Error("the layer lacks an executable /pause")
		}
		d, _ := read.Digest()
		digests = append(digests, d.String())
	}
	if digests[0] != digests[1] {
		t.Errorf("two builds of the same inputs differ: %v", digests)
	}
}

func TestBusyboxImage(t *testing.T) {
	bin, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("busybox-static is not installed (the lab installs it)")
	}
	img, err := Busybox("busybox", bin)
	if err != nil {
		t.Fatal(err)
	}
	links := map[string]string{}
	for _, f := range img.Files {
		links[f.Path] = f.Link
	}
	for _, applet := range []string{"/bin/sh", "/bin/sleep", "/sbin/ip", "/bin/ping"} {
		if links[applet] != "/bin/busybox" {
			t.Errorf("%s is not a link to busybox", applet)
		}
	}
	if err := Build(img, filepath.Join(t.TempDir(), "busybox.tar")); err != nil {
		t.Fatal(err)
	}
}
