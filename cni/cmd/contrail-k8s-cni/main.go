// Command contrail-k8s-cni is the CNI plugin the container runtime execs for
// every pod sandbox on a Kontrail node.
package main

import (
	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"
)

// supportedVersions are the CNI spec versions the plugin speaks.
var supportedVersions = version.PluginSupports("0.3.1", "0.4.0", "1.0.0", "1.1.0")

func main() {
	skel.PluginMainFuncs(skel.CNIFuncs{
		Add:    notImplemented,
		Del:    notImplemented,
		Check:  notImplemented,
		Status: notImplemented,
		GC:     notImplemented,
	}, supportedVersions, "contrail-k8s-cni: Kontrail's pod network plugin")
}

// notImplemented answers every command but VERSION until the plugin talks to
// the vrouter agent; the runtime gets a proper CNI error, not a crash.
func notImplemented(_ *skel.CmdArgs) error {
	return types.NewError(types.ErrInternal, "contrail-k8s-cni does not plug interfaces yet", "the vrouter agent API is not implemented in this build")
}
