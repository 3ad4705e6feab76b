# shellcheck shell=bash source-path=SCRIPTDIR
# Sourced by every script of the end-to-end lane (docs/e2e.md): strict mode, the pinned versions, and
# small helpers. The names of clusters, contexts and files come from tools/e2e/names.ts, as arguments.
set -euo pipefail

E2E_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
. "$E2E_SCRIPTS/versions.env"

log() { printf '[e2e] %s\n' "$*" >&2; }
die() {
    printf '[e2e] error: %s\n' "$*" >&2
    exit 1
}

# need TOOL...: stops with one line naming the first tool that is not on PATH.
need() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || die "$tool is not on PATH (docs/e2e.md lists what the lane needs; npm run e2e -- tools installs kind, kubectl, helm and pulumi)"
    done
}

# value_of FLAG ARGC: the value after a flag, or a usage error when there is none.
value_of() {
    [ "$2" -ge 2 ] || die "$1 needs a value"
}
