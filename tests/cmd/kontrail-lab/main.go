// Command kontrail-lab manages the multi-node Kubernetes lab of `make
// demo`: `images` builds the lab's images, `up` brings up the control
// plane in its own network namespace (the nodes, with containerd and
// kubelet, come next: issue 8 is in progress), `down` removes everything.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kontrail/kontrail/tests/internal/lab"
)

func main() {
	fs := flag.NewFlagSet("kontrail-lab", flag.ExitOnError)
	repo := fs.String("repo", ".", "The repository's top directory.")
	dir := fs.String("dir", ".lab", "The lab's directory (binaries, images, certificates, state, logs).")
	version := fs.String("version", "0.1.0", "Version tag of Kontrail's images.")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: kontrail-lab [flags] images|up|down

  images  build Kontrail's binaries, the pause and busybox images as image tarballs into <dir>/images
  up      bring up the control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler)
          in the network namespace klab-cp on the bridge klab0 (10.99.0.0/24); kubeconfig <dir>/kubeconfig
  down    stop every lab process, remove its namespaces, links and state (images and binaries stay)

Flags:
`)
		fs.PrintDefaults()
	}
	_ = fs.Parse(os.Args[1:])
	if fs.NArg() != 1 {
		fs.Usage()
		os.Exit(2)
	}
	if err := run(fs.Arg(0), *repo, *dir, *version); err != nil {
		fmt.Fprintf(os.Stderr, "kontrail-lab %s: %v\n", fs.Arg(0), err)
		os.Exit(1)
	}
}

func run(command, repo, dir, version string) error {
	repo, err := filepath.Abs(repo)
	if err != nil {
		return err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return err
	}
	l := &lab.Lab{Name: "klab", Dir: dir, K8sBin: filepath.Join(repo, "bin", "k8s"), Subnet: "10.99.0"}
	switch command {
	case "images":
		tarballs, err := lab.BuildImages(repo, dir, version)
		for _, t := range tarballs {
			fmt.Println(t)
		}
		return err
	case "up":
		if err := l.UpControlPlane(context.Background()); err != nil {
			return fmt.Errorf("%w (kontrail-lab down removes what was made)", err)
		}
		fmt.Printf("control plane up; use it with:\n  export KUBECONFIG=%s\n  %s get --raw /readyz\nstop it with: make lab-down\n",
			l.Kubeconfig(), filepath.Join(l.K8sBin, "kubectl"))
		return nil
	case "down":
		return l.Down()
	default:
		return fmt.Errorf("unknown command %q", command)
	}
}
