/**
 * What a region's replicator does for one secret, decided from what it read: the one piece of logic
 * that settles which write wins. Pure: the replicator's engine and the model in model/ both call it.
 *
 * Per secret, a region's Vault holds:
 * - the secret's own path (`<kvMount>/<remoteKey>`), which people, apps and ESO read and write;
 * - the replicator's **state** for it: the entry (value or deletion, with its stamp) the region holds,
 *   and which version of the secret's own path that entry was last matched with (`seen`);
 * - an **inbox** per peer region, where that peer's replicator offers its state.
 *
 * The decision, in order:
 * 1. **A local write or deletion?** A version of the secret's path that the state has not seen is a
 *    write made in this region, unless it is the replicator's own. Where Vault records who wrote each
 *    version (KV v2's `created_by`, in Vault 2), that says it. Elsewhere, before writing a value to the
 *    path the replicator records in the state the version its check-and-set write will create
 *    (`pending`), so the version that number names, holding the state's value, is its own. A local write gets the
 *    stamp of the time this Vault took it, raised above the state's stamp ({@link stampAfter}). A deleted current version is a deletion; a
 *    path gone altogether (its metadata deleted) is a deletion at the replicator's own time.
 * 2. **Merge.** The state becomes the entry with the greatest stamp among the state and the inbox.
 *    An entry stamped further ahead of this replicator's clock than the stated clock bound is held back
 *    until the clock reaches it, so one region's runaway clock cannot win every later write.
 * 3. **Apply.** The secret's path is made to hold the state: its value written (check-and-set against
 *    the version read, so a write made meanwhile is never overwritten unseen), or its current version
 *    deleted.
 *
 * Stamps only grow in every region (a merge takes the greatest, a local write is stamped above the
 * state), so a region's value never flips back; and merging is commutative, associative and
 * idempotent, so every region that has received the same entries holds the same one.
 *
 * This file runs in the replicator's container as it is (Node.js strips the types).
 */
import { type Stamp, isAfter, stampAfter } from "./stamp.ts";

/** A secret's value: its keys and their values. */
export type SecretData = Readonly<Record<string, string>>;

/** A value or a deletion, with the stamp of the write that made it: what regions offer each other. */
export interface Entry {
    readonly stamp: Stamp;
    readonly deleted: boolean;
    /** The value; absent when deleted. */
    readonly data?: SecretData;
}

/** A version of the secret's own path: its number, and when this region's Vault created it (which tells a re-created path's version 1 from the old one's). */
export interface VersionId {
    readonly version: number;
    readonly createdMs: number;
}

/** A version of the secret's path as the replicator last found it: whether it was deleted then too. */
export interface SeenVersion extends VersionId {
    /** Present when the version was deleted: its deletion is then an event already taken into account. */
    readonly deleted?: true;
}

/** The replicator's state for one secret in one region. */
export interface State extends Entry {
    /**
     * The version of the secret's path this state was last matched with, and whether it was deleted;
     * absent while none was. A deleted version the state has seen deleted is no new deletion, even when
     * the state has since taken a value it has yet to write (a write that failed leaves it so).
     */
    readonly seen?: SeenVersion;
    /** The version number the replicator's write of this state's value to the path will create, while it is under way. */
    readonly pending?: number;
}

/** What the secret's own path holds now. */
export type PathView =
    | { readonly kind: "absent" }
    | {
          readonly kind: "live";
          readonly id: VersionId;
          readonly data: SecretData;
          /** Whether the replicator wrote this version, where Vault records who wrote each (KV v2's `created_by`); undefined where it does not. */
          readonly byReplicator?: boolean;
      }
    | { readonly kind: "deleted"; readonly id: VersionId; readonly deletedMs: number };

export interface DecideInput {
    /** This region. */
    readonly region: string;
    /** The replicator's clock. */
    readonly nowMs: number;
    /** How far ahead of `nowMs` a received stamp may be and still count (the stated clock bound). */
    readonly maxAheadMs: number;
    readonly path: PathView;
    readonly state?: State;
    /** The entries peers offered (one per peer that has offered one). */
    readonly received: readonly Entry[];
}

/** What to change in the secret's own path. */
export type PathAction =
    { readonly kind: "write"; readonly data: SecretData; readonly cas: number } | { readonly kind: "delete"; readonly version: number };

export interface Decision {
    /** The state to record, when it changes. Record it before acting on the path. */
    readonly state?: State;
    /** What to change in the path, once the state is recorded. */
    readonly path?: PathAction;
    /** What this region offers its peers: its state's entry. */
    readonly offer?: Entry;
    /** How the state changed: a write or deletion made here, an entry adopted from a peer, or nothing. */
    readonly cause: "local" | "received" | "none";
    /** Received entries stamped too far ahead of this clock, held back for now. */
    readonly heldBack: readonly Entry[];
}

/** Whether two values hold the same keys with the same values. */
export function sameData(a: SecretData | undefined, b: SecretData | undefined): boolean {
    if (a === undefined || b === undefined) {
        return a === b;
    }
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((key) => Object.prototype.hasOwnProperty.call(b, key) && a[key] === b[key]);
}

const sameVersion = (a: VersionId | undefined, b: VersionId | undefined) =>
    a !== undefined && b !== undefined && a.version === b.version && a.createdMs === b.createdMs;

/** The entry part of a state (what travels). */
function entryOf(state: State): Entry {
    return state.deleted ? { stamp: state.stamp, deleted: true } : { stamp: state.stamp, deleted: false, data: state.data };
}

/** Step 1: the state after any write or deletion made in this region, and whether there was one. */
function observe(input: DecideInput): { readonly state?: State; readonly local: boolean } {
    const { path, state, region } = input;
    switch (path.kind) {
        case "live": {
            if (state !== undefined && sameVersion(state.seen, path.id)) {
                return { state, local: false };
            }
            const own =
                path.byReplicator ??
                (state !== undefined && !state.deleted && state.pending === path.id.version && sameData(state.data, path.data));
            if (own && state !== undefined) {
                // The replicator's own write: of the state's value, or (where Vault names the writer) of a
                // value an earlier decision adopted, which the path is about to be brought past.
                const { pending: _done, ...rest } = state;
                return { state: { ...rest, seen: path.id }, local: false };
            }
            const stamp = stampAfter(path.id.createdMs, state?.stamp, region);
            return { state: { stamp, deleted: false, data: { ...path.data }, seen: path.id }, local: true };
        }
        case "deleted": {
            const seen: SeenVersion = { ...path.id, deleted: true };
            if (state !== undefined && sameVersion(state.seen, path.id) && state.seen?.deleted === true) {
                // A deletion already taken into account: the state may hold a newer value not yet written.
                return { state, local: false };
            }
            if (state?.deleted === true) {
                return { state: { ...state, seen }, local: false };
            }
            const stamp = stampAfter(path.deletedMs, state?.stamp, region);
            return { state: { stamp, deleted: true, seen }, local: true };
        }
        case "absent": {
            if (state === undefined || state.deleted || state.seen === undefined) {
                // Never here, already a deletion, or a value adopted and not yet written.
                return { state, local: false };
            }
            // The path's metadata was deleted: no deletion time survives, so the replicator's clock stamps it.
            return { state: { stamp: stampAfter(input.nowMs, state.stamp, region), deleted: true }, local: true };
        }
    }
}

/** Steps 2 and 3. */
export function decide(input: DecideInput): Decision {
    const observed = observe(input);
    let state = observed.state;
    let adopted = false;
    const heldBack: Entry[] = [];
    for (const entry of input.received) {
        if (entry.stamp.ms > input.nowMs + input.maxAheadMs) {
            heldBack.push(entry);
        } else if (isAfter(entry.stamp, state?.stamp)) {
            const seen = state?.seen;
            state = entry.deleted
                ? { stamp: entry.stamp, deleted: true, ...(seen ? { seen } : {}) }
                : { stamp: entry.stamp, deleted: false, data: { ...(entry.data ?? {}) }, ...(seen ? { seen } : {}) };
            adopted = true;
        }
    }
    const action = pathAction(input.path, state);
    if (action?.kind === "write" && state !== undefined && state.pending !== action.cas + 1) {
        state = { ...state, pending: action.cas + 1 };
    }
    const changed = state !== input.state;
    return {
        ...(changed && state !== undefined ? { state } : {}),
        ...(state === undefined ? {} : { offer: entryOf(state) }),
        ...(action === undefined ? {} : { path: action }),
        cause: adopted ? "received" : observed.local ? "local" : "none",
        heldBack,
    };
}

/** What makes the path hold `state`. */
function pathAction(path: PathView, state: State | undefined): PathAction | undefined {
    if (state === undefined) {
        return undefined;
    }
    if (state.deleted) {
        return path.kind === "live" ? { kind: "delete", version: path.id.version } : undefined;
    }
    if (path.kind === "live" && sameData(path.data, state.data)) {
        return undefined;
    }
    return { kind: "write", data: { ...(state.data ?? {}) }, cas: path.kind === "absent" ? 0 : path.id.version };
}
