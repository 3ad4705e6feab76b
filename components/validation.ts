/**
 * Predicates shared by the config module (which turns a failure into a one-line error naming the
 * config key) and the components (which throw early when an importer passes impossible args).
 */

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** An RFC 1123 label: lowercase letters, digits and '-', 1-63 characters, alphanumeric at both ends. */
export function isDnsLabel(value: string): boolean {
    return DNS_LABEL.test(value);
}

/** An RFC 1123 subdomain: dot-separated DNS labels, at most 253 characters, no trailing dot. */
export function isDnsSubdomain(value: string): boolean {
    return value.length <= 253 && value.split(".").every(isDnsLabel);
}

const QUANTITY = /^(0|[1-9][0-9]*)(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;

/** A positive Kubernetes storage quantity such as `10Gi`, `500Mi` or `1.5Ti`. */
export function isStorageQuantity(value: string): boolean {
    const match = QUANTITY.exec(value);
    return match !== null && Number(`${match[1]}${match[2] ?? ""}`) > 0;
}

/** Raft needs a majority of voters: an odd number of servers, at most 7. */
export function isRaftReplicaCount(value: number): boolean {
    return Number.isInteger(value) && value >= 1 && value <= 7 && value % 2 === 1;
}

/** A whole number in [min, max]. */
export function isIntegerBetween(value: number, min: number, max: number): boolean {
    return Number.isInteger(value) && value >= min && value <= max;
}

const SEMVER = /^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;

/** A Helm chart version: semantic version without a leading `v`. */
export function isChartVersion(value: string): boolean {
    return SEMVER.test(value);
}

const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** An OCI image tag. */
export function isImageTag(value: string): boolean {
    return IMAGE_TAG.test(value);
}
