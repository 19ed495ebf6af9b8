// Command kontrail-lab manages the multi-node Kubernetes lab of `make
// lab` and `make demo`: `images` builds the lab's images, `up` brings up
// the control plane and the nodes (each a network namespace with its own
// containerd and kubelet, the images imported) and installs Kontrail,
// `status` shows it, `down` removes everything.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/kontrail/kontrail/tests/internal/lab"
)

const usage = `Usage: kontrail-lab [--repo DIR] [--dir DIR] [--version V] COMMAND [flags]

Commands:
  images   build Kontrail's binaries, the pause and busybox images as image tarballs into <dir>/images,
           and import them into the nodes of a lab that is up
  up       [--nodes N] [--install default|bundle|none]
           bring up the control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler)
           in the network namespace klab-cp on the bridge klab0 (10.99.0.0/24) and N nodes
           (klab-n<i>, 10.99.0.1<i>) with containerd and kubelet, then install Kontrail's operator
           (from config/default, or from bundle/manifests as OLM does) and the samples of config/samples,
           and wait until they are Available; kubeconfig <dir>/kubeconfig, logs <dir>/logs
  demo     [--nodes N] [--install default|bundle]
           up, then the seed's NAD vn1 and pod vn1-pod, a second pod on vn1 on another node, and what
           Kontrail made of them: kubectl get, the pod's network-status, its interfaces, a ping between the pods
  status   the nodes, Kontrail's resources and pods
  down     stop every lab process, remove its namespaces, links, cgroups and state (images and binaries stay)

Global flags:
`

func main() {
	fs := flag.NewFlagSet("kontrail-lab", flag.ExitOnError)
	repo := fs.String("repo", ".", "The repository's top directory.")
	dir := fs.String("dir", ".lab", "The lab's directory (binaries, images, certificates, state, logs).")
	version := fs.String("version", "0.1.0", "Version tag of Kontrail's images.")
	name := fs.String("name", "klab", "The lab's name: it prefixes its network namespaces, bridge and cgroups (the tests' labs are klabs, klabe...).")
	subnet := fs.String("subnet", "10.99.0", "The fabric's first three octets.")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	_ = fs.Parse(os.Args[1:])
	if fs.NArg() < 1 {
		fs.Usage()
		os.Exit(2)
	}
	command, args := fs.Arg(0), fs.Args()[1:]
	up := flag.NewFlagSet("kontrail-lab up", flag.ExitOnError)
	nodes := up.Int("nodes", 2, "Nodes of the lab.")
	install := up.String("install", lab.InstallDefault, "How to install Kontrail: default (config/default), bundle (bundle/manifests, as OLM does) or none.")
	if command == "up" || command == "demo" {
		_ = up.Parse(args)
		args = up.Args()
	}
	if len(args) > 0 {
		fmt.Fprintf(os.Stderr, "kontrail-lab %s: unexpected arguments %v\n", command, args)
		os.Exit(2)
	}
	if err := run(command, *repo, *dir, *version, *name, *subnet, *nodes, *install); err != nil {
		fmt.Fprintf(os.Stderr, "kontrail-lab %s: %v\n", command, err)
		os.Exit(1)
	}
}

func run(command, repo, dir, version, name, subnet string, nodes int, install string) error {
	repo, err := filepath.Abs(repo)
	if err != nil {
		return err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return err
	}
	l := &lab.Lab{Name: name, Dir: dir, K8sBin: filepath.Join(repo, "bin", "k8s"), Subnet: subnet}
	ctx := context.Background()
	switch command {
	case "images":
		tarballs, err := lab.BuildImages(repo, dir, version)
		if err != nil {
			return err
		}
		addons, err := l.BuildAddonImages()
		if err != nil {
			return err
		}
		tarballs = append(tarballs, addons...)
		for _, t := range tarballs {
			fmt.Println(t)
		}
		n, err := l.ReimportImages(ctx, tarballs)
		if err != nil {
			return err
		}
		if err := l.ReloadRegistry(ctx); err != nil {
			return err
		}
		if n > 0 {
			fmt.Printf("imported into the %d nodes that are up: delete a component's pods to run its new image\n", n)
		}
		return err
	case "up", "demo":
		if os.Geteuid() != 0 {
			return fmt.Errorf("the lab needs root: it makes network namespaces, links and cgroups")
		}
		if command == "demo" && install == "none" {
			return fmt.Errorf("the demo needs Kontrail installed (--install default or bundle)")
		}
		start := time.Now()
		if err := l.Up(ctx, repo, version, nodes, install); err != nil {
			return fmt.Errorf("%w\n(logs in %s; `make lab-down` removes what was made)", err, filepath.Join(dir, "logs"))
		}
		if command == "demo" {
			if err := l.Demo(ctx, repo); err != nil {
				return fmt.Errorf("%w\n(the lab stays up for a look: `make lab-status`; `make lab-down` removes it)", err)
			}
		}
		fmt.Printf("\nlab up in %s with %d nodes. Use it with:\n  export KUBECONFIG=%s\n  %s get nodes -o wide\nStop it with: make lab-down\n",
			time.Since(start).Round(time.Second), nodes, l.Kubeconfig(), filepath.Join(l.K8sBin, "kubectl"))
		return nil
	case "status":
		return l.Status(ctx)
	case "down":
		return l.Down()
	default:
		return fmt.Errorf("unknown command %q (images, up, demo, status, down)", command)
	}
}
