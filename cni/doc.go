// Package cni is contrail-k8s-cni, Kontrail's single, non-delegating CNI
// plugin: it asks the node's vrouter agent for a pod's interfaces and plugs
// every one of them (eth0 on the default pod network, eth1.. per
// NetworkAttachmentDefinition) into the pod's network namespace.
//
// This module must stay free of client-go and controller-runtime: the
// container runtime execs the plugin for every pod, so it has to stay small
// and start fast.
package cni
