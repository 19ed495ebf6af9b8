// Command contrail-k8s-cni is the CNI plugin the container runtime execs for
// every pod sandbox on a Kontrail node.
package main

import (
	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/kontrail/kontrail/cni/plugin"
)

// supportedVersions are the CNI spec versions the plugin speaks.
var supportedVersions = version.PluginSupports("0.3.1", "0.4.0", "1.0.0", "1.1.0")

func main() {
	skel.PluginMainFuncs(skel.CNIFuncs{
		Add:    plugin.Add,
		Del:    plugin.Del,
		Check:  plugin.Check,
		Status: plugin.Status,
		GC:     plugin.GC,
	}, supportedVersions, "contrail-k8s-cni: Kontrail's pod network plugin")
}
