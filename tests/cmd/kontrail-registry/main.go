// Command kontrail-registry is the lab's image registry: go-containerregistry's
// in-memory registry serving the image tarballs of `kontrail-lab images`,
// which every node's containerd uses as the mirror of docker.io, gcr.io, registry.k8s.io and
// kontrail.io. Pods whose image is pulled Always (`image: busybox`, an
// implicit :latest) then run as their users wrote them, with no access to
// the real registries.
//
// SIGHUP loads the tarballs again (new ones added since): the registry is
// never restarted, so no second process races the first for its port.
// Every load ends by writing the ready file with the load's number.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	listen := flag.String("listen", ":5000", "Address to serve the registry on.")
	images := flag.String("images", ".lab/images", "Directory of image tarballs to serve.")
	ready := flag.String("ready-file", "", "File written with the load's number once every image is served (at start and after each SIGHUP).")
	flag.Parse()
	if err := run(*listen, *images, *ready); err != nil {
		fmt.Fprintln(os.Stderr, "kontrail-registry:", err)
		os.Exit(1)
	}
}

func run(listen, images, ready string) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	errs := make(chan error, 1)
	go func() { errs <- http.Serve(l, registry.New(registry.Logger(log.New(io.Discard, "", 0)))) }()
	// Push through the loopback: the listener may be on every address.
	local := fmt.Sprintf("127.0.0.1:%d", l.Addr().(*net.TCPAddr).Port)
	for generation := 1; ; generation++ {
		if err := load(images, local); err != nil {
			return err
		}
		if ready != "" {
			if err := os.WriteFile(ready, []byte(fmt.Sprintf("%d\n", generation)), 0o644); err != nil {
				return err
			}
		}
		fmt.Printf("load %d done\n", generation)
		select {
		case err := <-errs:
			return err
		case <-hup:
			fmt.Println("SIGHUP: loading the images again")
		}
	}
}

// load pushes every image of every tarball in dir into the registry at local.
func load(dir, local string) error {
	tarballs, err := filepath.Glob(filepath.Join(dir, "*.tar"))
	if err != nil {
		return err
	}
	for _, t := range tarballs {
		manifest, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(t) })
		if err != nil {
			return fmt.Errorf("%s: %w", t, err)
		}
		for _, m := range manifest {
			for _, tag := range m.RepoTags {
				src, err := name.NewTag(tag)
				if err != nil {
					return fmt.Errorf("%s: %w", t, err)
				}
				img, err := tarball.ImageFromPath(t, &src)
				if err != nil {
					return fmt.Errorf("%s: %w", t, err)
				}
				// A mirror is asked for the repository without its registry.
				dst, err := name.NewTag(local+"/"+src.RepositoryStr()+":"+src.TagStr(), name.Insecure)
				if err != nil {
					return err
				}
				if err := remote.Write(dst, img); err != nil {
					return fmt.Errorf("push %s: %w", tag, err)
				}
				fmt.Printf("serving %s as %s\n", tag, dst)
			}
		}
	}
	return nil
}
