/**
 * Where the replicator keeps its records in each region's KV mount, and how they are written there.
 *
 * Under `_replication/` in the mount, a prefix no namespace's secrets can have (a Kubernetes namespace
 * name cannot start with `_`), so no namespace's policy reaches it:
 * - `_replication/state/<remoteKey>`: this region's state for a secret (written by its replicator);
 * - `_replication/inbox/<peer>/<remoteKey>`: the entry `peer` offers for it (written by that peer);
 * - `_replication/doorbell/<peer>`: what `peer` rang last (a count, and the keys it offered lately).
 *
 * Every record is one KV v2 write of string values, so a reader sees a whole record or none.
 */
import type { Entry, SecretData, State } from "./decide.ts";
import { formatStamp, parseStamp } from "./stamp.ts";

export const PREFIX = "_replication";

export const stateKey = (key: string) => `${PREFIX}/state/${key}`;
export const inboxKey = (peer: string, key: string) => `${PREFIX}/inbox/${peer}/${key}`;
export const doorbellKey = (peer: string) => `${PREFIX}/doorbell/${peer}`;

/** How many recently offered keys a doorbell lists; a reader that missed more reads every inbox entry. */
export const DOORBELL_KEYS = 256;

function parseData(text: string | undefined): SecretData | undefined {
    if (text === undefined) {
        return undefined;
    }
    try {
        const value = JSON.parse(text) as unknown;
        if (typeof value !== "object" || value === null || Array.isArray(value)) {
            return undefined;
        }
        const entries = Object.entries(value as Record<string, unknown>);
        return entries.every(([, item]) => typeof item === "string") ? (Object.fromEntries(entries) as SecretData) : undefined;
    } catch {
        return undefined;
    }
}

/** An entry as a record's string values. */
export function encodeEntry(entry: Entry): Record<string, string> {
    return {
        stamp: formatStamp(entry.stamp),
        deleted: entry.deleted ? "true" : "false",
        ...(entry.deleted ? {} : { data: JSON.stringify(entry.data ?? {}) }),
    };
}

/** The entry a record holds, or undefined when it is not one. */
export function decodeEntry(record: SecretData): Entry | undefined {
    const stamp = parseStamp(record.stamp);
    if (stamp === undefined || (record.deleted !== "true" && record.deleted !== "false")) {
        return undefined;
    }
    if (record.deleted === "true") {
        return { stamp, deleted: true };
    }
    const data = parseData(record.data);
    return data === undefined ? undefined : { stamp, deleted: false, data };
}

/** A state as a record's string values. */
export function encodeState(state: State): Record<string, string> {
    return {
        ...encodeEntry(state),
        ...(state.seen === undefined ? {} : { seen: `${state.seen.version}/${state.seen.createdMs}` }),
        ...(state.seen?.deleted === true ? { seenDeleted: "true" } : {}),
        ...(state.pending === undefined ? {} : { pending: String(state.pending) }),
    };
}

/** The state a record holds, or undefined when it is not one. */
export function decodeState(record: SecretData): State | undefined {
    const entry = decodeEntry(record);
    if (entry === undefined) {
        return undefined;
    }
    const seen = /^(\d+)\/(\d+)$/.exec(record.seen ?? "");
    const pending = /^\d+$/.test(record.pending ?? "") ? Number(record.pending) : undefined;
    return {
        ...entry,
        ...(seen === null
            ? {}
            : {
                  seen: {
                      version: Number(seen[1]),
                      createdMs: Number(seen[2]),
                      ...(record.seenDeleted === "true" ? { deleted: true as const } : {}),
                  },
              }),
        ...(pending === undefined ? {} : { pending }),
    };
}

/** A doorbell: how often it was rung, and the keys offered at the latest rings (with the count of the ring). */
export interface Doorbell {
    readonly count: number;
    readonly recent: readonly (readonly [number, string])[];
}

export function encodeDoorbell(doorbell: Doorbell): Record<string, string> {
    return { count: String(doorbell.count), recent: JSON.stringify(doorbell.recent) };
}

export function decodeDoorbell(record: SecretData): Doorbell | undefined {
    if (!/^\d+$/.test(record.count ?? "")) {
        return undefined;
    }
    try {
        const recent = JSON.parse(record.recent ?? "[]") as unknown;
        if (
            !Array.isArray(recent) ||
            !recent.every((item) => Array.isArray(item) && typeof item[0] === "number" && typeof item[1] === "string")
        ) {
            return undefined;
        }
        return { count: Number(record.count), recent: recent as [number, string][] };
    } catch {
        return undefined;
    }
}
