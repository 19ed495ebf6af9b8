// Command kontrail-lab manages the multi-node Kubernetes lab of `make
// demo`: `images` builds the lab's images, `up` brings up the control
// plane and the nodes (each a network namespace with its own containerd
// and kubelet, the images imported), `down` removes everything. Installing
// Kontrail into it is the next step of issue 8.
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
	nodes := fs.Int("nodes", 2, "Nodes of the lab (up).")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: kontrail-lab [flags] images|up|down

  images  build Kontrail's binaries, the pause and busybox images as image tarballs into <dir>/images
  up      bring up the control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler)
          in the network namespace klab-cp on the bridge klab0 (10.99.0.0/24), and --nodes nodes
          (klab-n<i>, 10.99.0.1<i>) with containerd and kubelet; kubeconfig <dir>/kubeconfig
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
	if err := run(fs.Arg(0), *repo, *dir, *version, *nodes); err != nil {
		fmt.Fprintf(os.Stderr, "kontrail-lab %s: %v\n", fs.Arg(0), err)
		os.Exit(1)
	}
}

func run(command, repo, dir, version string, nodes int) error {
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
		tarballs, err := lab.BuildImages(repo, dir, version)
		if err != nil {
			return err
		}
		ctx := context.Background()
		if err := l.UpControlPlane(ctx); err != nil {
			return fmt.Errorf("%w (kontrail-lab down removes what was made)", err)
		}
		if err := l.UpNodes(ctx, nodes, tarballs); err != nil {
			return fmt.Errorf("%w (kontrail-lab down removes what was made)", err)
		}
		fmt.Printf("lab up with %d nodes (NotReady until a CNI is installed); use it with:\n  export KUBECONFIG=%s\n  %s get nodes -o wide\nstop it with: make lab-down\n",
			nodes, l.Kubeconfig(), filepath.Join(l.K8sBin, "kubectl"))
		return nil
	case "down":
		return l.Down()
	default:
		return fmt.Errorf("unknown command %q", command)
	}
}
