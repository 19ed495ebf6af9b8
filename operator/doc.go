// Package operator is the Kontrail operator: it reconciles the ApiServer,
// Controller, Kubemanager and Vrouter custom resources into the workloads
// of each component. The reconcilers live under internal/controller, one
// package per API group; cmd holds the binary.
package operator

// The manager records events on the objects it reconciles.
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
