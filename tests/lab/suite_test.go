package lab

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// TestLabSuite runs the lab's Ginkgo specs (stack_test.go); the plain
// tests of this package check the lab's parts.
func TestLabSuite(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Lab")
}
