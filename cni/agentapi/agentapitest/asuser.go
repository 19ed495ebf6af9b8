// Package agentapitest helps tests attack the agent's API as another user.
package agentapitest

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// Nobody is the unprivileged user attacks run as.
const Nobody = 65534

// AsUser runs f on a thread of its own whose user and group are uid
// (Linux credentials are per thread, and the raw system calls leave the
// process's other threads root; Go makes new threads from a clean
// template thread, never from this one), then makes the thread root
// again. What f does on other goroutines (an http.Client's dials) runs
// as root: f makes its system calls itself. Needs root.
func AsUser(uid int, f func()) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if _, _, errno := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(uid), uintptr(uid), 0); errno != 0 {
			errc <- fmt.Errorf("setresgid %d: %w", uid, errno)
			return
		}
		if _, _, errno := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(uid), uintptr(uid), 0); errno != 0 {
			errc <- fmt.Errorf("setresuid %d: %w", uid, errno)
			return
		}
		defer func() {
			_, _, e1 := unix.RawSyscall(unix.SYS_SETRESUID, 0, 0, 0)
			_, _, e2 := unix.RawSyscall(unix.SYS_SETRESGID, 0, 0, 0)
			if e1 != 0 || e2 != 0 {
				panic("agentapitest: the thread cannot become root again")
			}
			errc <- nil
		}()
		f()
	}()
	return <-errc
}
