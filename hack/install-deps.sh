#!/usr/bin/env bash
# Installs the Debian packages the tests and the lab need, when missing:
# make runs the build; busybox-static, containerd and runc serve the lab
# (its images and nodes), nftables the lab's kube-proxy image (its nft),
# curl, bind9-dnsutils and netcat-openbsd the e2e suite's images (make
# conformance);
# iproute2, iperf3 and ping the dataplane tests.
# Used by .ci/run and by `make demo`/`make lab` (a fresh machine has only
# Go, gcc, git and apt).
set -euo pipefail
packages=(make iproute2 iperf3 iputils-ping ca-certificates busybox-static containerd runc nftables curl bind9-dnsutils netcat-openbsd)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" != 0 ]; then
	echo "not root: not installing ${missing[*]} (the root-only tests skip without them)"
	exit 0
fi
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing Debian packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
