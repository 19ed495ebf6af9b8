// Package lab is the multi-node Kubernetes lab of `make demo`: a control
// plane and nodes in network namespaces on this machine, each node with
// its own containerd and kubelet, and the images they run, built without
// a Docker engine or a registry.
package lab

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// File is a file of an image: its content from Source, or a symlink to Link.
type File struct {
	Path   string // in the image, absolute
	Source string // on this machine
	Link   string
	Mode   int64
}

// Image is an image the lab builds: a single layer of files.
type Image struct {
	Ref        string
	Files      []File
	Entrypoint []string
	Cmd        []string
	// User the image runs as ("uid:gid"); empty is root.
	User string
}

// epoch is every file's time: the same inputs give the same image digest.
var epoch = time.Unix(0, 0)

// Build writes img as an image tarball (the format `ctr images import`
// and `docker load` read) to out.
func Build(img Image, out string) error {
	ref, err := name.ParseReference(img.Ref)
	if err != nil {
		return fmt.Errorf("image %q: %w", img.Ref, err)
	}
	layerTar, err := layerOf(img.Files)
	if err != nil {
		return fmt.Errorf("image %s: %w", img.Ref, err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layerTar)), nil })
	if err != nil {
		return err
	}
	image, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return err
	}
	cfg, err := image.ConfigFile()
	if err != nil {
		return err
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture, cfg.OS = "amd64", "linux"
	cfg.Created = v1.Time{Time: epoch}
	cfg.Config.Entrypoint, cfg.Config.Cmd, cfg.Config.User = img.Entrypoint, img.Cmd, img.User
	cfg.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	if image, err = mutate.ConfigFile(image, cfg); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return tarball.WriteToFile(out, ref, image)
}

// layerOf is a tar of files, with their parent directories.
func layerOf(files []File) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	for _, f := range files {
		for d := path.Dir(f.Path); d != "/" && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	var dirList []string
	for d := range dirs {
		dirList = append(dirList, d)
	}
	sort.Strings(dirList)
	for _, d := range dirList {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(d, "/") + "/", Mode: 0o755, ModTime: epoch}); err != nil {
			return nil, err
		}
	}
	for _, f := range files {
		name := strings.TrimPrefix(f.Path, "/")
		if f.Link != "" {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: f.Link, Mode: 0o777, ModTime: epoch}); err != nil {
				return nil, err
			}
			continue
		}
		data, err := os.ReadFile(f.Source)
		if err != nil {
			return nil, err
		}
		mode := f.Mode
		if mode == 0 {
			mode = 0o755
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(data)), Mode: mode, ModTime: epoch}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Busybox is the workload image of the seeds and samples (`busybox`), from
// Debian's busybox-static: the binary and a link per applet.
func Busybox(ref, binary string) (Image, error) {
	out, err := exec.Command(binary, "--list-full").Output()
	if err != nil {
		return Image{}, fmt.Errorf("%s --list-full (install Debian's busybox-static): %w", binary, err)
	}
	img := Image{Ref: ref, Files: []File{{Path: "/bin/busybox", Source: binary}}, Cmd: []string{"sh"}}
	for _, applet := range strings.Fields(string(out)) {
		if p := "/" + applet; p != "/bin/busybox" {
			img.Files = append(img.Files, File{Path: p, Link: "/bin/busybox"})
		}
	}
	return img, nil
}
