package agentapi

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// DefaultSocketDir is the directory of the agents' sockets: root's alone
// (0700), so that no one else can reach an agent or take its socket's
// name while it restarts.
const DefaultSocketDir = "/var/run/kontrail/cni"

// SocketPath is the socket, in dir, of the agent of the calling thread's
// network namespace. A node is its network namespace: one per host in a
// cluster, one per node on the lab, whose nodes share one filesystem (as
// an abstract socket was, but behind the directory's permissions).
func SocketPath(dir string) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
		return "", fmt.Errorf("failed to read this process's network namespace: %w", err)
	}
	return filepath.Join(dir, fmt.Sprintf("net-%d.sock", st.Ino)), nil
}

// PrepareSocketDir makes dir root's alone, as OpenShift's CNI server does:
// made if missing, then 0700 and owned by root; it refuses a directory
// that is a link or that it cannot make so.
func PrepareSocketDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.Chown(dir, 0, 0); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	info, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	uid := -1
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		uid = int(st.Uid)
	}
	if !info.IsDir() || uid != 0 || info.Mode().Perm() != 0o700 {
		return fmt.Errorf("socket directory %s must be a directory of root's with mode 0700 (it is %s, uid %d)", dir, info.Mode(), uid)
	}
	return nil
}

// Listen serves on path, in a directory PrepareSocketDir made: a socket
// left by a killed agent is replaced; the socket is 0600.
func Listen(path string) (net.Listener, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("failed to listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// PeerCredentials are the credentials of the process at the other end of
// a unix connection (SO_PEERCRED: the client's when it connected, the
// server's when it listened).
func PeerCredentials(conn net.Conn) (*unix.Ucred, error) {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return nil, fmt.Errorf("not a unix connection: %T", conn)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return nil, err
	}
	return cred, credErr
}
