package main

import (
	"fmt"

	"github.com/blang/semver/v4"
)

func parseVersion(v string) (semver.Version, error) {
	parsed, err := semver.Parse(v)
	if err != nil {
		return semver.Version{}, fmt.Errorf("version %q is not semver: %w", v, err)
	}
	return parsed, nil
}
