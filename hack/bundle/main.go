// Command bundle renders Kontrail's OLM bundle (bundle/ and
// bundle.Dockerfile) from config/manifests, as operator-sdk's
// `generate bundle` would; the operator-sdk CLI is not served by the module
// proxy, so this small generator uses the kustomize API and
// operator-framework/api's types instead.
//
// What it adds to the hand-written CSV base: the version and name, the
// owned CRDs (every CRD of the install, so OLM upgrades them) with
// descriptors read from their schemas, the install strategy (the operator's
// Deployment, and as permissions exactly the rules bound to its
// ServiceAccount), and alm-examples from the samples.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	var o Options
	flag.StringVar(&o.ConfigDir, "config", "config/manifests", "Kustomization to render (the CSV base, config/default, the samples, scorecard).")
	flag.StringVar(&o.OutDir, "out", "bundle", "Directory the bundle is written to.")
	flag.StringVar(&o.Dockerfile, "dockerfile", "bundle.Dockerfile", "Path of the bundle image's Dockerfile.")
	flag.StringVar(&o.Version, "version", "0.1.0", "Version of the bundle (semver).")
	flag.StringVar(&o.Package, "package", "kontrail", "OLM package name.")
	flag.StringVar(&o.Channels, "channels", "alpha", "Comma-separated channels.")
	flag.StringVar(&o.DefaultChannel, "default-channel", "alpha", "Default channel.")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "Usage: bundle [flags]\n\nRenders the OLM bundle from config/manifests.\n\nFlags:\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	b, err := Generate(o)
	if err == nil {
		err = b.Write(o)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bundle: %v\n", err)
		os.Exit(1)
	}
}
