// Command kontrail-lab manages the multi-node Kubernetes lab of `make
// demo`. So far it builds the lab's images; `up`, `down` and `status`
// come with the rest of the lab (issue 8).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kontrail/kontrail/tests/internal/lab"
)

func main() {
	fs := flag.NewFlagSet("kontrail-lab", flag.ExitOnError)
	repo := fs.String("repo", ".", "The repository's top directory.")
	dir := fs.String("dir", ".lab", "The lab's directory (binaries, images, state, logs).")
	version := fs.String("version", "0.1.0", "Version tag of Kontrail's images.")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: kontrail-lab [flags] images\n\n  images  build Kontrail's binaries, the pause and busybox images as image tarballs into <dir>/images\n\nFlags:\n")
		fs.PrintDefaults()
	}
	_ = fs.Parse(os.Args[1:])
	if fs.NArg() != 1 || fs.Arg(0) != "images" {
		fs.Usage()
		os.Exit(2)
	}
	abs, err := filepath.Abs(*dir)
	if err == nil {
		var tarballs []string
		if tarballs, err = lab.BuildImages(*repo, abs, *version); err == nil {
			for _, t := range tarballs {
				fmt.Println(t)
			}
			return
		}
	}
	fmt.Fprintf(os.Stderr, "kontrail-lab: %v\n", err)
	os.Exit(1)
}
