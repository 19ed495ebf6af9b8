package agent

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// ConflistName is the CNI configuration the agent writes.
const ConflistName = "10-kontrail.conflist"

// installCNI copies the plugin into the node's CNI bin dir (root-owned,
// 0755, never setuid) and writes the conflist, both atomically: the
// runtime never sees half a file.
func (a *Agent) installCNI() error {
	bin, err := os.ReadFile(a.cfg.CNIBinary)
	if err != nil {
		return fmt.Errorf("failed to read the CNI plugin %s: %w", a.cfg.CNIBinary, err)
	}
	dst := filepath.Join(a.cfg.CNIBinDir, "contrail-k8s-cni")
	if err := writeAtomic(dst, bin, 0o755); err != nil {
		return fmt.Errorf("failed to install the CNI plugin into %s: %w", dst, err)
	}
	if err := os.Chown(dst, 0, 0); err != nil {
		return fmt.Errorf("failed to make %s root-owned: %w", dst, err)
	}
	if err := a.installLoopback(); err != nil {
		return err
	}
	data, err := json.MarshalIndent(a.conflist(), "", "  ")
	if err != nil {
		return err
	}
	conf := filepath.Join(a.cfg.CNIConfDir, ConflistName)
	if err := writeAtomic(conf, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("failed to write %s: %w", conf, err)
	}
	return nil
}

// conflist is the node's CNI configuration: the one plugin, no delegate.
// It takes the runtime's portMappings (Kubernetes hostPort): the runtime
// passes them to a plugin that says so.
func (a *Agent) conflist() map[string]any {
	plugin := map[string]any{"type": "contrail-k8s-cni", "socketDir": a.cfg.SocketDir, "mtu": a.mtu,
		"capabilities": map[string]any{"portMappings": true}}
	if a.cfg.CNIClusterName != "" {
		plugin["clusterName"] = a.cfg.CNIClusterName
	}
	return map[string]any{"cniVersion": a.cfg.CNIVersion, "name": "kontrail", "plugins": []any{plugin}}
}

// installLoopback installs the reference loopback plugin when the node has
// none (a distribution's CNI plugins package usually provides it, and it is
// theirs to update): containerd's CRI plugs every sandbox's lo with it and
// fails the sandbox without it.
func (a *Agent) installLoopback() error {
	if a.cfg.CNILoopbackBinary == "" {
		return nil
	}
	dst := filepath.Join(a.cfg.CNIBinDir, "loopback")
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	bin, err := os.ReadFile(a.cfg.CNILoopbackBinary)
	if err != nil {
		return fmt.Errorf("failed to read the loopback plugin %s: %w", a.cfg.CNILoopbackBinary, err)
	}
	if err := writeAtomic(dst, bin, 0o755); err != nil {
		return fmt.Errorf("failed to install the loopback plugin into %s: %w", dst, err)
	}
	return os.Chown(dst, 0, 0)
}
