// Command kontrail-controller runs the Kontrail controller: allocation of network ids, route targets, addresses and MACs.
package main

import "github.com/kontrail/kontrail/pkg/component"

func main() {
	component.Main("kontrail-controller", "Runs the Kontrail controller: allocation of network ids, route targets, addresses and MACs.", nil)
}
