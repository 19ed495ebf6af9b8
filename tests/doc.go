// Package tests holds Kontrail's Ginkgo suites: envtest (a real
// kube-apiserver and etcd with every CRD of config/crd installed) and, as
// they land, the lab and end-to-end suites.
package tests
