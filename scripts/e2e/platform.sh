#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# What each of the lane's clusters needs before a region stack runs there, but does not install
# (README, "Deploying a region"): cert-manager with a CA ClusterIssuer, and an ingress controller that
# passes TLS through. ingress-nginx stands in for Cilium's ingress: it runs on the node labelled LABEL
# with host ports 80 and 443, so the other regions reach it at that node's address, and passes TLS
# through to Vault (--enable-ssl-passthrough; the program sets the Ingress's ssl-passthrough annotation).
# Running it again upgrades in place.
#
# usage: platform.sh --ca-dir DIR --issuer NAME --ingress-class CLASS --ingress-namespace NS --ingress-label LABEL CONTEXT...
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage="usage: platform.sh --ca-dir DIR --issuer NAME --ingress-class CLASS --ingress-namespace NS --ingress-label LABEL CONTEXT..."
ca_dir=
issuer=
class=
ingress_namespace=
label=
contexts=()
while [ $# -gt 0 ]; do
    case $1 in
    --ca-dir) value_of "$1" $# && ca_dir=$2 && shift 2 ;;
    --issuer) value_of "$1" $# && issuer=$2 && shift 2 ;;
    --ingress-class) value_of "$1" $# && class=$2 && shift 2 ;;
    --ingress-namespace) value_of "$1" $# && ingress_namespace=$2 && shift 2 ;;
    --ingress-label) value_of "$1" $# && label=$2 && shift 2 ;;
    -*) die "unknown option $1 ($usage)" ;;
    *) contexts+=("$1") && shift ;;
    esac
done
for value in "$ca_dir" "$issuer" "$class" "$ingress_namespace" "$label"; do
    if [ -z "$value" ]; then die "$usage"; fi
done
if [ ${#contexts[@]} -eq 0 ]; then die "$usage"; fi
if [ ! -s "$ca_dir/ca.pem" ] || [ ! -s "$ca_dir/ca.key" ]; then die "no CA in $ca_dir (scripts/e2e/ca.sh makes it)"; fi
need kubectl helm

# The CA's Secret lives in cert-manager's namespace, where a ClusterIssuer reads it (cert-manager's
# cluster resource namespace); the ClusterIssuer signs every Vault certificate with it.
ca_secret=e2e-ca

for context in "${contexts[@]}"; do
    log "$context: cert-manager $CERT_MANAGER_CHART_VERSION"
    helm upgrade --install cert-manager cert-manager --kube-context "$context" \
        --repo "$CERT_MANAGER_CHART_REPO" --version "$CERT_MANAGER_CHART_VERSION" \
        --namespace cert-manager --create-namespace \
        --set crds.enabled=true --wait --timeout 10m

    log "$context: ClusterIssuer $issuer"
    # Server-side apply: no last-applied annotation holding the key.
    kubectl --context "$context" -n cert-manager create secret tls "$ca_secret" \
        --cert "$ca_dir/ca.pem" --key "$ca_dir/ca.key" --dry-run=client -o yaml |
        kubectl --context "$context" apply --server-side --force-conflicts --field-manager=openova-e2e -f -
    kubectl --context "$context" apply --server-side --field-manager=openova-e2e -f - <<YAML
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata:
  name: $issuer
spec:
  ca:
    secretName: $ca_secret
YAML
    kubectl --context "$context" wait --for=condition=Ready "clusterissuer/$issuer" --timeout=180s

    log "$context: ingress-nginx $INGRESS_NGINX_CHART_VERSION, class $class, in $ingress_namespace"
    helm upgrade --install ingress-nginx ingress-nginx --kube-context "$context" \
        --repo "$INGRESS_NGINX_CHART_REPO" --version "$INGRESS_NGINX_CHART_VERSION" \
        --namespace "$ingress_namespace" --create-namespace --wait --timeout 10m -f - <<YAML
controller:
  ingressClassResource:
    name: $class
  ingressClass: $class
  extraArgs:
    enable-ssl-passthrough: "true"
  hostPort:
    enabled: true
  service:
    type: ClusterIP
  publishService:
    enabled: false
  nodeSelector:
    kubernetes.io/os: linux
    $label: "true"
  tolerations:
    - key: node-role.kubernetes.io/control-plane
      operator: Exists
      effect: NoSchedule
YAML
done
