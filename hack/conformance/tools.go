//go:build tools

// Package tools pins what 'make conformance' builds from k8s.io/kubernetes at
// the lab's version: the e2e suite (go test -c), agnhost (the image most of
// the selected tests run) and the ginkgo CLI that runs the suite in parallel.
package tools

import (
	_ "github.com/onsi/ginkgo/v2/ginkgo"
	_ "k8s.io/kubernetes/test/e2e"
	_ "k8s.io/kubernetes/test/images/agnhost"
)
