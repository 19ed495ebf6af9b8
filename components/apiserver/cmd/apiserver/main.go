// Command kontrail-apiserver runs the Kontrail apiserver: admission webhooks for the core.contrail.juniper.net API.
package main

import "github.com/kontrail/kontrail/pkg/component"

func main() {
	component.Main("kontrail-apiserver", "Runs the Kontrail apiserver: admission webhooks for the core.contrail.juniper.net API.", nil)
}
