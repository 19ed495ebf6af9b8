// Command kontrail-bash is /bin/bash in the lab's workload images: the
// seeds' pods run `bash -c ...` in images (toolbox, ubuntu) that the lab
// builds from busybox, whose shell is ash. It runs busybox's sh with the
// same arguments (busybox picks the applet by argv[0], so it cannot be a
// link named bash).
package main

import (
	"fmt"
	"os"
	"syscall"
)

func main() {
	err := syscall.Exec("/bin/sh", append([]string{"sh"}, os.Args[1:]...), os.Environ())
	fmt.Fprintln(os.Stderr, "bash: exec /bin/sh:", err)
	os.Exit(127)
}
