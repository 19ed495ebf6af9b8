#!/usr/bin/env bash
# Builds the Kubernetes binaries (kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet, kubectl, kube-proxy), etcd and CoreDNS (the lab's
# cluster DNS) from the Go module proxy into $1 (default bin/k8s). No
# release binary is downloaded: the versions are pinned by
# hack/k8s-binaries/go.mod, hack/etcd-binary/go.mod and
# hack/coredns-binary/go.mod.
#
# Idempotent: a stamp file names the pinned versions, and when it matches the
# binaries are left as they are, so a second run takes well under a second.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/bin/k8s}
mkdir -p "$out"
out=$(cd "$out" && pwd)

k8s_version=$(cd "$root/hack/k8s-binaries" && GOWORK=off go list -m -f '{{.Version}}' k8s.io/kubernetes)
etcd_version=$(cd "$root/hack/etcd-binary" && GOWORK=off go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)
stamp="$out/.versions"
coredns_version=$(cd "$root/hack/coredns-binary" && GOWORK=off go list -m -f '{{.Version}}' github.com/coredns/coredns)
want="kubernetes=$k8s_version etcd=$etcd_version coredns=$coredns_version"
bins=(etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl kube-proxy coredns)

have_all=true
for b in "${bins[@]}"; do [ -x "$out/$b" ] || have_all=false; done
if $have_all && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
	echo "envtest assets up to date in $out ($want)"
	exit 0
fi
rm -f "$stamp"

# The version package is stamped at link time the way Kubernetes' own build
# does it; without it the binaries call themselves v0.0.0-master, and the
# apiserver's and kubelet's compatibility-version checks misjudge them.
minor=$(echo "$k8s_version" | cut -d. -f2)
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
	ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

echo "building Kubernetes $k8s_version binaries into $out (a few minutes from a cold cache)"
(cd "$root/hack/k8s-binaries" && GOWORK=off CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out/" \
	k8s.io/kubernetes/cmd/kube-apiserver \
	k8s.io/kubernetes/cmd/kube-controller-manager \
	k8s.io/kubernetes/cmd/kube-scheduler \
	k8s.io/kubernetes/cmd/kubelet \
	k8s.io/kubernetes/cmd/kubectl \
	k8s.io/kubernetes/cmd/kube-proxy)

echo "building etcd $etcd_version into $out"
(cd "$root/hack/etcd-binary" && GOWORK=off CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3)

echo "building CoreDNS $coredns_version into $out"
(cd "$root/hack/coredns-binary" && GOWORK=off CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/coredns" github.com/coredns/coredns)

echo "$want" > "$stamp"
echo "envtest assets ready in $out ($want)"
