// Command kontrail-kubemanager runs the Kontrail kubemanager: NetworkAttachmentDefinitions and pods to Contrail objects.
package main

import "github.com/kontrail/kontrail/pkg/component"

func main() {
	component.Main("kontrail-kubemanager", "Runs the Kontrail kubemanager: NetworkAttachmentDefinitions and pods to Contrail objects.", nil)
}
