#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The end-to-end lane's kind clusters, one per region, all on one Docker network, so that each
# region's pods reach the other regions' nodes (and so their ingress) by the nodes' addresses.
#
# usage: clusters.sh create --network NET --workers N --ingress-label LABEL [--load IMAGE]... CLUSTER...
#        clusters.sh delete --network NET CLUSTER...
#
# create: each cluster gets one control-plane node, labelled LABEL=true, where the ingress controller
# runs with host ports 80 and 443 (scripts/e2e/platform.sh), and N workers for the N Vault servers (the
# chart keeps two servers off one node). Each IMAGE is pulled once and loaded into every node. A
# cluster that exists is kept. delete: deletes the clusters, then the network once nothing uses it.
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage="usage: clusters.sh create --network NET --workers N --ingress-label LABEL [--load IMAGE]... CLUSTER... | clusters.sh delete --network NET CLUSTER..."
[ $# -ge 1 ] || die "$usage"
action=$1
shift
network=
workers=
label=
images=()
clusters=()
while [ $# -gt 0 ]; do
    case $1 in
    --network) value_of "$1" $# && network=$2 && shift 2 ;;
    --workers) value_of "$1" $# && workers=$2 && shift 2 ;;
    --ingress-label) value_of "$1" $# && label=$2 && shift 2 ;;
    --load) value_of "$1" $# && images+=("$2") && shift 2 ;;
    -*) die "unknown option $1 ($usage)" ;;
    *) clusters+=("$1") && shift ;;
    esac
done
if [ -z "$network" ] || [ ${#clusters[@]} -eq 0 ]; then die "$usage"; fi
need docker kind

# kind puts every cluster on the network this variable names (kind's Docker provider).
export KIND_EXPERIMENTAL_DOCKER_NETWORK=$network

exists() { kind get clusters 2>/dev/null | grep -qx "$1"; }

# Several clusters on one machine need more inotify watches and instances than many hosts allow (kind's
# known issues, "Pod errors due to too many open files"). Raised where the lane may (root, or CI with
# sudo); elsewhere it says how.
raise_inotify() {
    local watches instances
    watches=$(sysctl -n fs.inotify.max_user_watches 2>/dev/null || echo 0)
    instances=$(sysctl -n fs.inotify.max_user_instances 2>/dev/null || echo 0)
    if [ "$watches" -ge 524288 ] && [ "$instances" -ge 512 ]; then
        return
    fi
    if [ "$(id -u)" = 0 ]; then
        sysctl -q -w fs.inotify.max_user_watches=524288 fs.inotify.max_user_instances=512
    elif [ "${CI:-}" = true ] && command -v sudo >/dev/null 2>&1; then
        sudo sysctl -q -w fs.inotify.max_user_watches=524288 fs.inotify.max_user_instances=512
    else
        log "warning: fs.inotify limits are $watches watches and $instances instances; if pods fail with 'too many open files', run: sudo sysctl -w fs.inotify.max_user_watches=524288 fs.inotify.max_user_instances=512"
    fi
}

# The kind configuration of one cluster.
config() {
    printf 'kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n'
    printf '  - role: control-plane\n    labels:\n      %s: "true"\n' "$label"
    local i
    for ((i = 0; i < workers; i++)); do
        printf '  - role: worker\n'
    done
}

case $action in
create)
    if ! [[ "$workers" =~ ^[0-9]+$ ]] || [ -z "$label" ]; then die "$usage"; fi
    if [ "$(uname -s)" = Linux ]; then raise_inotify; fi
    if ! docker network inspect "$network" >/dev/null 2>&1; then
        log "creating Docker network $network"
        docker network create "$network" >/dev/null
    fi
    for cluster in "${clusters[@]}"; do
        if exists "$cluster"; then
            log "cluster $cluster exists"
            continue
        fi
        log "creating cluster $cluster (1 control-plane, $workers workers) on $network"
        config | kind create cluster --name "$cluster" --image "$KIND_NODE_IMAGE" --config - --wait 180s
    done
    for image in "${images[@]}"; do
        docker image inspect "$image" >/dev/null 2>&1 || docker pull --quiet "$image" >/dev/null
        for cluster in "${clusters[@]}"; do
            log "loading $image into $cluster"
            kind load docker-image "$image" --name "$cluster"
        done
    done
    ;;
delete)
    for cluster in "${clusters[@]}"; do
        if exists "$cluster"; then
            log "deleting cluster $cluster"
            kind delete cluster --name "$cluster"
        fi
    done
    if docker network inspect "$network" >/dev/null 2>&1; then
        if [ -z "$(docker network inspect --format '{{range .Containers}}{{.Name}} {{end}}' "$network")" ]; then
            docker network rm "$network" >/dev/null
            log "deleted Docker network $network"
        else
            log "Docker network $network is still used by other containers; left in place"
        fi
    fi
    ;;
*) die "$usage" ;;
esac
