// Command kontrail-vrouter-agent runs the Kontrail node agent on every node.
package main

import "github.com/kontrail/kontrail/pkg/component"

func main() {
	component.Main("kontrail-vrouter-agent",
		"Runs the Kontrail vrouter agent: programs the node's dataplane and serves the CNI plugin.",
		nil)
}
