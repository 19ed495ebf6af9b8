// Package crd embeds the CRDs controller-gen renders, so that the operator
// can check that those of the core API are installed and established.
package crd

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed bases/*.yaml
var bases embed.FS

// CoreNames returns the names of the core.contrail.juniper.net CRDs
// (the files are named <group>_<plural>.yaml).
func CoreNames() []string {
	entries, err := fs.ReadDir(bases, "bases")
	if err != nil {
		panic(fmt.Sprintf("embedded CRDs: %v", err)) // embedded at build time: cannot fail
	}
	var names []string
	for _, e := range entries {
		group, plural, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".yaml"), "_")
		if ok && group == "core.contrail.juniper.net" {
			names = append(names, plural+"."+group)
		}
	}
	sort.Strings(names)
	return names
}
