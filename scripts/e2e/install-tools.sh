#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Installs the end-to-end lane's tools at the versions of versions.env (the Pulumi CLI at the version
# given, the @pulumi/pulumi SDK's) into one directory, each checked against the SHA-256 its own release
# publishes beside it. A tool already there at its version is kept.
#
# usage: install-tools.sh --bin DIR --pulumi VERSION
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bin=
pulumi_version=
while [ $# -gt 0 ]; do
    case $1 in
    --bin) value_of "$1" $# && bin=$2 && shift 2 ;;
    --pulumi) value_of "$1" $# && pulumi_version=$2 && shift 2 ;;
    *) die "unknown argument $1 (usage: install-tools.sh --bin DIR --pulumi VERSION)" ;;
    esac
done
if [ -z "$bin" ] || [ -z "$pulumi_version" ]; then die "usage: install-tools.sh --bin DIR --pulumi VERSION"; fi
need curl tar

case $(uname -s) in
Linux) os=linux ;;
Darwin) os=darwin ;;
*) die "the lane runs on Linux or macOS, not $(uname -s)" ;;
esac
case $(uname -m) in
x86_64 | amd64) arch=amd64 pulumi_arch=x64 ;;
aarch64 | arm64) arch=arm64 pulumi_arch=arm64 ;;
*) die "no pinned tools for $(uname -m)" ;;
esac

mkdir -p "$bin"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

sha256() {
    if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1; else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

# fetch URL FILE EXPECTED_SHA256: downloads, and stops unless the file has that digest.
fetch() {
    log "downloading $1"
    curl -fsSL --retry 3 -o "$2" "$1"
    local actual
    actual=$(sha256 "$2")
    [ "$actual" = "$3" ] || die "$1: SHA-256 $actual, but its release publishes $3"
}

# The first field of the line of a checksum file that names FILE (or its only line).
published() {
    local sums=$1 name=$2
    awk -v name="$name" 'NF == 1 { print $1; exit } { sub(/^\*/, "", $2) } $2 == name { print $1; exit }' "$sums"
}

if [ "$("$bin/kind" version 2>/dev/null | cut -d' ' -f2)" != "$KIND_VERSION" ]; then
    url=https://github.com/kubernetes-sigs/kind/releases/download/$KIND_VERSION/kind-$os-$arch
    curl -fsSL --retry 3 -o "$tmp/kind.sha256sum" "$url.sha256sum"
    fetch "$url" "$tmp/kind" "$(published "$tmp/kind.sha256sum" "kind-$os-$arch")"
    install -m 0755 "$tmp/kind" "$bin/kind"
fi
log "kind $("$bin/kind" version)"

if ! "$bin/kubectl" version --client 2>/dev/null | grep -qx "Client Version: $KUBECTL_VERSION"; then
    url=https://dl.k8s.io/release/$KUBECTL_VERSION/bin/$os/$arch/kubectl
    curl -fsSL --retry 3 -o "$tmp/kubectl.sha256" "$url.sha256"
    fetch "$url" "$tmp/kubectl" "$(published "$tmp/kubectl.sha256" kubectl)"
    install -m 0755 "$tmp/kubectl" "$bin/kubectl"
fi
log "$("$bin/kubectl" version --client | head -1)"

if [ "$("$bin/helm" version --template '{{.Version}}' 2>/dev/null)" != "$HELM_VERSION" ]; then
    archive=helm-$HELM_VERSION-$os-$arch.tar.gz
    curl -fsSL --retry 3 -o "$tmp/helm.sha256sum" "https://get.helm.sh/$archive.sha256sum"
    fetch "https://get.helm.sh/$archive" "$tmp/$archive" "$(published "$tmp/helm.sha256sum" "$archive")"
    tar -xzf "$tmp/$archive" -C "$tmp"
    install -m 0755 "$tmp/$os-$arch/helm" "$bin/helm"
fi
log "helm $("$bin/helm" version --template '{{.Version}}')"

if [ "$("$bin/pulumi" version 2>/dev/null)" != "v$pulumi_version" ]; then
    archive=pulumi-v$pulumi_version-$os-$pulumi_arch.tar.gz
    curl -fsSL --retry 3 -o "$tmp/pulumi-checksums.txt" "https://get.pulumi.com/releases/sdk/pulumi-$pulumi_version-checksums.txt"
    fetch "https://get.pulumi.com/releases/sdk/$archive" "$tmp/$archive" "$(published "$tmp/pulumi-checksums.txt" "$archive")"
    tar -xzf "$tmp/$archive" -C "$tmp"
    # The CLI and its language hosts, side by side as the archive has them.
    for file in "$tmp"/pulumi/*; do install -m 0755 "$file" "$bin/"; done
fi
log "pulumi $("$bin/pulumi" version)"
