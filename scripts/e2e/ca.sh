#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The end-to-end lane's CA: one key and self-signed certificate (ca.key, ca.pem) in DIR, made once. Every
# cluster's ClusterIssuer signs with it, and every stack trusts it (vaultCaCertFile). It lives a week:
# long enough for a lane, and a key that leaks from a test machine is soon worth nothing.
#
# usage: ca.sh DIR
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -eq 1 ] || die "usage: ca.sh DIR"
dir=$1
need openssl
if [ -s "$dir/ca.pem" ] && [ -s "$dir/ca.key" ]; then
    log "CA in $dir already made"
    exit 0
fi
mkdir -p "$dir"
umask 077
openssl req -x509 -newkey rsa:3072 -nodes -sha256 -days 7 \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" \
    -subj "/CN=openova-vault e2e CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
chmod 0644 "$dir/ca.pem"
log "CA made in $dir"
