#!/usr/bin/env bash
# Builds what 'make conformance' runs from k8s.io/kubernetes at the lab's
# version (hack/conformance/go.mod pins it, as hack/k8s-binaries/go.mod pins
# the lab's binaries) into $1 (default bin/conformance): e2e.test (the e2e
# suite, go test -c), agnhost (the test image's binary) and the ginkgo CLI
# that runs the suite on parallel processes. No release tarball is
# downloaded. agnhost.src names agnhost's source directory in the module
# cache (the lab's agnhost image takes porter's TLS pair from it).
#
# Idempotent: a stamp file names the pinned versions.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/bin/conformance}
mkdir -p "$out"
out=$(cd "$out" && pwd)
mod="$root/hack/conformance"

k8s_version=$(cd "$mod" && GOWORK=off go list -m -f '{{.Version}}' k8s.io/kubernetes)
ginkgo_version=$(cd "$mod" && GOWORK=off go list -m -f '{{.Version}}' github.com/onsi/ginkgo/v2)
lab_version=$(cd "$root/hack/k8s-binaries" && GOWORK=off go list -m -f '{{.Version}}' k8s.io/kubernetes)
if [ "$k8s_version" != "$lab_version" ]; then
	echo "hack/conformance pins k8s.io/kubernetes $k8s_version but the lab runs $lab_version (hack/k8s-binaries): make them equal" >&2
	exit 1
fi
want="kubernetes=$k8s_version ginkgo=$ginkgo_version"
stamp="$out/.versions"
have_all=true
for b in e2e.test agnhost ginkgo agnhost.src; do [ -e "$out/$b" ] || have_all=false; done
if $have_all && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
	echo "conformance binaries up to date in $out ($want)"
	exit 0
fi
rm -f "$stamp"

minor=$(echo "$k8s_version" | cut -d. -f2)
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
	ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

echo "building Kubernetes $k8s_version e2e.test, agnhost and ginkgo $ginkgo_version into $out (a few minutes from a cold cache)"
cd "$mod"
GOWORK=off CGO_ENABLED=0 go test -c -vet=off -trimpath -ldflags "$ldflags" -o "$out/e2e.test" k8s.io/kubernetes/test/e2e
GOWORK=off CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out/agnhost" k8s.io/kubernetes/test/images/agnhost
GOWORK=off CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/ginkgo" github.com/onsi/ginkgo/v2/ginkgo
GOWORK=off go list -f '{{.Dir}}' k8s.io/kubernetes/test/images/agnhost > "$out/agnhost.src"
echo "$want" > "$stamp"
echo "conformance binaries ready in $out ($want)"
