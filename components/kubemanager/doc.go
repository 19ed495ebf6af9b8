// Package kubemanager is the Kontrail kubemanager component: it turns NetworkAttachmentDefinitions, pods, namespaces and services into Contrail objects.
package kubemanager
