//go:build tools

// Package tools pins CoreDNS, which 'make envtest-assets' builds for the
// lab's cluster DNS.
package tools

import _ "github.com/coredns/coredns"
