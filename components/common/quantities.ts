/**
 * Kubernetes quantities as this project accepts them: storage and memory with a unit, CPU in whole
 * millicores. Anything that Kubernetes would read as something other than what was meant (a bare
 * number of bytes, a lowercase `m` on memory) is refused.
 */

const QUANTITY = /^(0|[1-9][0-9]*)(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)$/;
const UNIT_BYTES: Readonly<Record<string, number>> = {
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    P: 1e15,
    E: 1e18,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    Pi: 2 ** 50,
    Ei: 2 ** 60,
};

/** The smallest volume this project accepts: anything smaller is a typo (`10` instead of `10Gi`). */
export const MIN_VOLUME_BYTES = 2 ** 30;

/**
 * A Kubernetes storage quantity with a unit, of at least 1Gi, such as `10Gi` or `1.5Ti`. A bare number
 * is bytes to Kubernetes, so `100` would ask for a 100-byte volume: it is rejected.
 */
export function isStorageQuantity(value: string): boolean {
    return (quantityBytes(value) ?? 0) >= MIN_VOLUME_BYTES;
}

/**
 * The bytes a Kubernetes quantity with a unit (`256Mi`, `1Gi`, `512M`, `1.5Ti`) stands for, or
 * `undefined` when it is not one: a bare number, an exponent or an unknown unit.
 */
export function quantityBytes(value: string): number | undefined {
    const match = QUANTITY.exec(value);
    return match === null ? undefined : Number(`${match[1]}${match[2] ?? ""}`) * UNIT_BYTES[match[3]];
}

const CPU_QUANTITY = /^(?:([1-9][0-9]*)m|(0|[1-9][0-9]*)(?:\.([0-9]{1,3}))?)$/;

/**
 * A positive Kubernetes CPU quantity in whole millicores: `500m`, `1`, `2.5`, `0.25`. Refused:
 * zero, fractions of a millicore (`0.0005`, `1.5m`, which Kubernetes would round), exponents and
 * unit suffixes other than `m`.
 */
export function isCpuQuantity(value: string): boolean {
    const match = CPU_QUANTITY.exec(value);
    if (match === null) {
        return false;
    }
    const millicores = match[1] !== undefined ? Number(match[1]) : Number(match[2]) * 1000 + Number((match[3] ?? "").padEnd(3, "0"));
    return millicores > 0;
}

/**
 * A positive Kubernetes memory quantity with a unit: `256Mi`, `1Gi`, `512M`, `1.5Gi`. Refused: a bare
 * number (bytes to Kubernetes, so `256` is a typo for `256Mi`), a lowercase `m` (`256m` is 0.256
 * bytes), lowercase binary units (`1gi`) and zero.
 */
export function isMemoryQuantity(value: string): boolean {
    const bytes = quantityBytes(value);
    return bytes !== undefined && bytes > 0;
}
