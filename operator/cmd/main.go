// Command kontrail-operator runs the Kontrail operator: it reconciles the
// ApiServer, Controller, Kubemanager and Vrouter resources into the
// workloads of each component.
package main

import "github.com/kontrail/kontrail/pkg/component"

func main() {
	component.Main("kontrail-operator",
		"Runs the Kontrail operator, which reconciles the ApiServer, Controller,\nKubemanager and Vrouter resources into the workloads of each component.",
		nil)
}
