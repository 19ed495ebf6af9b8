package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"

	"github.com/vishvananda/netlink"

	"github.com/kontrail/kontrail/cni/agentapi"
)

// PortStore holds the ports the plugin reported, keyed by container, and
// keeps them in a file so that a restarted agent knows them again.
type PortStore struct {
	mu    sync.Mutex
	path  string
	ports map[string][]agentapi.Port
	// plugged says whether a port's host end is still on the node: a
	// port whose pod is gone (its forget is pending) holds no host port.
	plugged func(hostIfName string) bool
}

// HostPortTaken is a port's host port that another pod's port of the
// node holds already (the same protocol and port, for the same address or
// every address): the kubelet's scheduler keeps such pods apart, so it
// comes from a pod bound past the scheduler, or a holder not cleaned up.
type HostPortTaken struct {
	Want, Held agentapi.HostPort
	Holder     agentapi.Port
}

func (e *HostPortTaken) Error() string {
	return fmt.Sprintf("host port %s is taken: pod %s/%s (container %s) holds %s on this node", e.Want,
		e.Holder.PodNamespace, e.Holder.PodName, shortID(e.Holder.ContainerID), e.Held)
}

// shortID is a container ID as crictl shows it.
func shortID(id string) string {
	if len(id) > 13 {
		return id[:13]
	}
	return id
}

// linkExists says whether the node has a link of that name.
func linkExists(name string) bool {
	_, err := netlink.LinkByName(name)
	var notFound netlink.LinkNotFoundError
	return !errors.As(err, &notFound)
}

// OpenPortStore loads the store of path, or starts an empty one. A file
// that does not parse is set aside (<path>.corrupt) and the store starts
// empty, with the reason in problem: the agent rebuilds it from its host
// ends' aliases (portsFromKernel) before it reconciles anything.
//
// The store's directory is made at once: the agent's state directory is a
// host directory every agent of the host shares, and a directory that
// holds nothing can be removed on the host beneath a running agent (an
// empty directory's rmdir succeeds), which leaves the agent's mount on an
// unlinked directory where nothing can be made again (see
// StateDirProblem).
func OpenPortStore(path string) (s *PortStore, problem string, err error) {
	s = &PortStore{path: path, ports: map[string][]agentapi.Port{}, plugged: linkExists}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, "", fmt.Errorf("failed to make the port state's directory: %w", err)
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("failed to read the port state %s: %w", path, err)
	}
	var list agentapi.Ports
	if err := json.Unmarshal(data, &list); err != nil {
		if rerr := os.Rename(path, path+".corrupt"); rerr != nil {
			return nil, "", fmt.Errorf("the port state %s is corrupt (%v) and cannot be set aside: %w", path, err, rerr)
		}
		return s, fmt.Sprintf("the port state %s was corrupt (%v): set aside as %s.corrupt, the ports are read back from the node's interfaces", path, err, path), nil
	}
	for _, p := range list.Ports {
		s.ports[p.ContainerID] = append(s.ports[p.ContainerID], p)
	}
	return s, "", nil
}

// Known says whether the store has the port of a container's interface.
func (s *PortStore) Known(containerID, ifName string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.ports[containerID] {
		if p.IfName == ifName {
			return true
		}
	}
	return false
}

// Restore adds ports read back from the node (a container's ports are
// merged with those it has).
func (s *PortStore) Restore(ports []agentapi.Port) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(ports) == 0 {
		return nil
	}
	for _, p := range ports {
		s.ports[p.ContainerID] = append(s.ports[p.ContainerID], p)
	}
	return s.save()
}

// Add records the ports of a container, replacing what it had, unless
// one of their host ports is another container's (*HostPortTaken): the
// check and the record are one step, so two ADDs never both take one.
func (s *PortStore) Add(ports []agentapi.Port) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(ports) == 0 {
		return nil
	}
	if err := s.hostPortTaken(ports); err != nil {
		return err
	}
	s.ports[ports[0].ContainerID] = ports
	return s.save()
}

// hostPortTaken finds a host port of ports that another container's
// plugged port holds (under mu).
func (s *PortStore) hostPortTaken(ports []agentapi.Port) error {
	ids := make([]string, 0, len(s.ports))
	for id := range s.ports {
		if id != ports[0].ContainerID {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, p := range ports {
		for _, want := range p.HostPorts {
			for _, id := range ids {
				for _, holder := range s.ports[id] {
					for _, held := range holder.HostPorts {
						if want.Overlaps(held) && (s.plugged == nil || s.plugged(holder.HostIfName)) {
							return &HostPortTaken{Want: want, Held: held, Holder: holder}
						}
					}
				}
			}
		}
	}
	return nil
}

// Delete forgets the ports of a container.
func (s *PortStore) Delete(containerID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.ports[containerID]; !ok {
		return nil
	}
	delete(s.ports, containerID)
	return s.save()
}

// DeletePort forgets one port of a container.
func (s *PortStore) DeletePort(containerID, ifName string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ports := s.ports[containerID]
	kept := ports[:0]
	for _, p := range ports {
		if p.IfName != ifName {
			kept = append(kept, p)
		}
	}
	if len(kept) == len(ports) {
		return nil
	}
	if len(kept) == 0 {
		delete(s.ports, containerID)
	} else {
		s.ports[containerID] = kept
	}
	return s.save()
}

// List returns every port, sorted by container and interface.
func (s *PortStore) List() []agentapi.Port {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []agentapi.Port
	for _, ps := range s.ports {
		out = append(out, ps...)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ContainerID != out[j].ContainerID {
			return out[i].ContainerID < out[j].ContainerID
		}
		return out[i].IfName < out[j].IfName
	})
	return out
}

// save writes the state atomically: a temporary file renamed over the old.
func (s *PortStore) save() error {
	var list agentapi.Ports
	for _, ps := range s.ports {
		list.Ports = append(list.Ports, ps...)
	}
	data, err := json.Marshal(list)
	if err != nil {
		return err
	}
	if err := writeAtomic(s.path, data, 0o600); err != nil {
		// Name the cause a user can act on when it is the directory's.
		if problem := StateDirProblem(filepath.Dir(filepath.Dir(s.path))); problem != nil {
			return fmt.Errorf("%w (%v)", problem, err)
		}
		return err
	}
	return nil
}

// writeAtomic writes data to path through a temporary file in the same
// directory, so that a reader sees the old or the new content, never half.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename, there is nothing left to remove
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// StateDirProblem says whether dir was removed from the node beneath the
// process that uses it: a host directory mounted into a container stays
// mounted after the host removes it, but it is unlinked (no links left),
// and nothing can be made in it again ("no such file or directory" for
// every port saved, or for a socket). Only a new mount (the container
// restarted) sees the node's directory again. A directory not made yet
// is no problem.
func StateDirProblem(dir string) error {
	info, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Nlink == 0 {
		return fmt.Errorf("%s was removed from the node beneath the agent: nothing can be made in it until the agent restarts", dir)
	}
	return nil
}
