package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/operator-framework/api/pkg/manifests"
	"github.com/operator-framework/api/pkg/validation"
	"github.com/operator-framework/api/pkg/validation/errors"
)

const repo = "../.."

// The checked-in bundle is what the generator renders from config/ now.
func TestBundleIsCurrent(t *testing.T) {
	out := t.TempDir()
	o := Options{ConfigDir: filepath.Join(repo, "config", "manifests"), OutDir: filepath.Join(out, "bundle"),
		Dockerfile: filepath.Join(out, "bundle.Dockerfile"), Version: "0.1.0", Package: "kontrail", Channels: "alpha", DefaultChannel: "alpha"}
	b, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Write(o); err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(o.OutDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(out, path)
		compare(t, path, filepath.Join(repo, rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkedIn, _ := filepath.Glob(filepath.Join(repo, "bundle", "*", "*"))
	rendered, _ := filepath.Glob(filepath.Join(o.OutDir, "*", "*"))
	if len(checkedIn) != len(rendered) {
		t.Errorf("bundle/ has %d files, the generator renders %d: run 'make bundle'", len(checkedIn), len(rendered))
	}
}

func compare(t *testing.T, rendered, checkedIn string) {
	t.Helper()
	want, err := os.ReadFile(rendered)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(checkedIn)
	if err != nil || string(got) != string(want) {
		t.Errorf("%s is stale or missing: run 'make bundle'", checkedIn)
	}
}

// The bundle passes operator-framework/api's validators: the default
// bundle suite and the optional ones of operator-sdk's operatorframework
// suite (OperatorHub, capabilities, categories, good practices, deprecated
// APIs for the Kubernetes version we build).
func TestBundleValidates(t *testing.T) {
	bundle, err := manifests.GetBundleFromDir(filepath.Join(repo, "bundle", "manifests"))
	if err != nil {
		t.Fatal(err)
	}
	install, err := filepath.Glob(filepath.Join(repo, "config", "crd", "bases", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(bundle.V1CRDs); got != len(install) || got == 0 {
		t.Errorf("the bundle carries %d CRDs, want all %d of the install (config/crd/bases)", got, len(install))
	}
	validators := validation.DefaultBundleValidators.WithValidators(
		validation.OperatorHubV2Validator,
		validation.StandardCapabilitiesValidator,
		validation.StandardCategoriesValidator,
		validation.GoodPracticesValidator,
		validation.AlphaDeprecatedAPIsValidator,
		validation.ObjectValidator,
	)
	objs := append(bundle.ObjectsToValidate(), map[string]string{"k8s-version": "1.37"})
	for _, result := range validators.Validate(objs...) {
		for _, e := range result.Errors {
			t.Errorf("%s: %v", result.Name, e)
		}
		for _, w := range result.Warnings {
			if w.Level == errors.LevelWarn {
				t.Logf("warning: %s: %v", result.Name, w)
			}
		}
	}
}
