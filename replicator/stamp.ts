/**
 * Write stamps: the total order every region computes the same way, which decides which write wins.
 *
 * A stamp is a hybrid logical clock (Kulkarni et al., "Logical Physical Clocks", OPODIS 2014) kept per
 * secret: `ms` is a physical time in milliseconds, `counter` orders writes that share an `ms`, and
 * `region` breaks the last tie. Stamps compare by `ms`, then `counter`, then `region` (as strings).
 *
 * A write made in a region's Vault gets its stamp from the time that Vault accepted it (the version's
 * `created_time`, or a deletion's `deletion_time`), raised above the stamp of the value the region
 * held: so a write made after a region saw a value is ordered after that value, whatever the clocks
 * say. A copy carries the stamp of the write it copies, never a new one, so a copy never looks newer
 * than its original.
 *
 * This file runs in the replicator's container as it is (Node.js strips the types), so it imports
 * nothing but other files of the replicator.
 */

/** A write's place in the order. */
export interface Stamp {
    /** Milliseconds since the epoch. */
    readonly ms: number;
    /** Orders writes with the same `ms`. */
    readonly counter: number;
    /** The region whose Vault took the write. */
    readonly region: string;
}

/** Negative, zero or positive as `a` is before, the same as, or after `b`. */
export function compareStamps(a: Stamp, b: Stamp): number {
    if (a.ms !== b.ms) {
        return a.ms < b.ms ? -1 : 1;
    }
    if (a.counter !== b.counter) {
        return a.counter < b.counter ? -1 : 1;
    }
    return a.region < b.region ? -1 : a.region > b.region ? 1 : 0;
}

/** Whether `a` comes after `b`. */
export function isAfter(a: Stamp, b: Stamp | undefined): boolean {
    return b === undefined || compareStamps(a, b) > 0;
}

/**
 * The stamp of a write that `region`'s Vault took at `physicalMs`, after the value stamped `previous`:
 * the hybrid logical clock's local event.
 */
export function stampAfter(physicalMs: number, previous: Stamp | undefined, region: string): Stamp {
    const ms = Math.floor(physicalMs);
    if (previous === undefined || ms > previous.ms) {
        return { ms, counter: 0, region };
    }
    return { ms: previous.ms, counter: previous.counter + 1, region };
}

const TEXT = /^(\d{1,16})\.(\d{1,9})\.([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)$/;

/** A stamp as text, `<ms>.<counter>.<region>`, which sorts like the stamp only after parsing. */
export function formatStamp(stamp: Stamp): string {
    return `${stamp.ms}.${stamp.counter}.${stamp.region}`;
}

/** The stamp `text` names, or undefined when it is not one. */
export function parseStamp(text: unknown): Stamp | undefined {
    const match = typeof text === "string" ? TEXT.exec(text) : null;
    if (match === null) {
        return undefined;
    }
    const ms = Number(match[1]);
    const counter = Number(match[2]);
    return Number.isSafeInteger(ms) && Number.isSafeInteger(counter) ? { ms, counter, region: match[3] } : undefined;
}

/** Milliseconds of an RFC 3339 time as Vault writes it (nanoseconds are cut to milliseconds), or undefined for none. */
export function parseVaultTime(text: unknown): number | undefined {
    if (typeof text !== "string" || text === "") {
        return undefined;
    }
    const ms = Date.parse(text);
    // Go's zero time, which Vault writes for "not set" in some fields.
    return Number.isNaN(ms) || ms <= 0 ? undefined : ms;
}
