/**
 * Regions for the replicator's tests and the bench: one fake Vault per region (tests/support/fakeVault.ts) and the
 * real replicator engine in each, logged in to its own Vault and, with what each peer grants it (its
 * inbox and doorbell there, nothing else), to every peer's. Links can be cut and healed, answers lost,
 * replicators restarted (a new engine: its memory gone), clocks offset.
 */
import { hintFor } from "../../replicator/audit";
import type { Decision } from "../../replicator/decide";
import type { ReplicatorTiming } from "../../replicator/config";
import { Engine } from "../../replicator/engine";
import { doorbellKey, inboxKey, stateKey } from "../../replicator/records";
import type { Stamp } from "../../replicator/stamp";
import { VaultClient } from "../../replicator/vault";
import { FakeVault } from "./fakeVault";

export const MOUNT = "secret";

export interface LabOptions {
    readonly regions: readonly string[];
    readonly keys: readonly string[];
    /** Each region's clock minus true time. */
    readonly clockOffsetMs?: readonly number[];
    /** True time; default the system clock. */
    readonly clock?: () => number;
    /** Answer in-process (fast, for thousands of histories) instead of over HTTP. Default true. */
    readonly inProcess?: boolean;
    /** Whether the Vaults record who wrote each version. Default true. */
    readonly attribution?: boolean;
    readonly timing?: Partial<ReplicatorTiming>;
    /** Drive the engines step by step. Default true. */
    readonly manual?: boolean;
    /** Each Vault streams its changes to its region's replicator, as the socket audit device does. Default false. */
    readonly auditHints?: boolean;
}

/** One decision an engine reported, with its region and when (true time). */
export interface Decided {
    readonly region: number;
    readonly key: string;
    readonly atMs: number;
    readonly decision: Decision;
}

/** The display name a region's replicator has in its own Vault (`kubernetes-<namespace>-<service account>`). */
export const localActor = (region: string) => `kubernetes-vault-vault-replicator-${region}`;
/** The display name a region's replicator has in a peer's Vault. */
export const peerActor = (from: string, to: string) => `jwt-${from}-replicator-at-${to}`;

export class Lab {
    readonly vaults: FakeVault[];
    engines: Engine[] = [];
    readonly decided: Decided[] = [];
    readonly logs: string[] = [];
    /** Every refresh an engine asked for: its region and the key (what main.ts turns into ESO force-syncs). */
    readonly refreshed: { readonly region: number; readonly key: string }[] = [];
    private readonly options: LabOptions;
    private readonly clients: VaultClient[] = [];

    constructor(options: LabOptions) {
        this.options = options;
        this.vaults = options.regions.map(
            (_, i) =>
                new FakeVault({
                    clockOffsetMs: options.clockOffsetMs?.[i] ?? 0,
                    attribution: options.attribution ?? true,
                    ...(options.clock ? { clock: options.clock } : {}),
                }),
        );
    }

    private now(region: number): number {
        return (this.options.clock ?? Date.now)() + (this.options.clockOffsetMs?.[region] ?? 0);
    }

    async start(): Promise<void> {
        if (this.options.inProcess === false) {
            await Promise.all(this.vaults.map((vault) => vault.start()));
        }
        this.engines = this.options.regions.map((_, i) => this.engine(i));
        if (this.options.auditHints === true) {
            this.vaults.forEach((vault, i) => vault.audit.add((key) => this.engines[i].hint(hintFor(key))));
        }
        if (this.options.manual === false) {
            for (const engine of this.engines) engine.start();
        }
    }

    async stop(): Promise<void> {
        await Promise.all(this.engines.map((engine) => engine.stop()));
        for (const client of this.clients) client.close();
        if (this.options.inProcess === false) {
            await Promise.all(this.vaults.map((vault) => vault.stop()));
        }
    }

    private client(vault: FakeVault, token: string): VaultClient {
        const client = new VaultClient({
            address: this.options.inProcess === false ? vault.address : "http://in-process",
            login: { kind: "token-file", path: "token" },
            readFile: () => token,
            ...(this.options.inProcess === false ? {} : { transport: vault.transport() }),
        });
        this.clients.push(client);
        return client;
    }

    /** A new engine for region `i` (a replicator started afresh). */
    engine(i: number): Engine {
        const { regions, keys } = this.options;
        const region = regions[i];
        const local = this.client(this.vaults[i], this.vaults[i].issueToken({ displayName: localActor(region) }));
        const peers = regions.flatMap((peer, j) =>
            j === i
                ? []
                : [
                      {
                          region: peer,
                          client: this.client(
                              this.vaults[j],
                              this.vaults[j].issueToken({
                                  displayName: peerActor(region, peer),
                                  // What a peer grants: its inbox for this region, and this region's doorbell.
                                  allow: [`${MOUNT}/data/${inboxKey(region, "")}`, `${MOUNT}/data/${doorbellKey(region)}`],
                              }),
                          ),
                      },
                  ],
        );
        return new Engine({
            region,
            mount: MOUNT,
            keys,
            local,
            peers,
            timing: {
                scanIntervalMs: 60_000,
                doorbellIntervalMs: 1_000,
                retryIntervalMs: 5_000,
                maxAheadMs: 5_000,
                ...this.options.timing,
            },
            actor: localActor(region),
            now: () => this.now(i),
            log: (line) => this.logs.push(`${region}: ${line}`),
            changed: (key) => {
                this.refreshed.push({ region: i, key });
            },
            decided: (key, decision) => this.decided.push({ region: i, key, atMs: (this.options.clock ?? Date.now)(), decision }),
            manual: this.options.manual ?? true,
        });
    }

    /** Restarts region `i`'s replicator: a new engine, its memory gone. */
    restart(i: number): void {
        this.engines[i] = this.engine(i);
    }

    /** Cuts (or heals) the link between two regions: each one's replicator can no longer reach the other's Vault. */
    cut(a: number, b: number, down = true): void {
        const { regions } = this.options;
        for (const [from, to] of [
            [a, b],
            [b, a],
        ]) {
            const actor = peerActor(regions[from], regions[to]);
            if (down) this.vaults[to].cutOff.add(actor);
            else this.vaults[to].cutOff.delete(actor);
        }
    }

    healAll(): void {
        for (const vault of this.vaults) vault.cutOff.clear();
    }

    /** One step of region `i`'s replicator: its doorbells, its queued rounds, its offers. */
    async step(i: number): Promise<void> {
        const engine = this.engines[i];
        await engine.pollDoorbells().catch(() => undefined);
        await engine.drain();
        await engine.offerPending();
    }

    /** Every replicator scans and offers, again and again, until nothing changes (or `rounds` run out). */
    async settle(rounds = 8): Promise<void> {
        for (let n = 0; n < rounds; n++) {
            const before = this.snapshot();
            for (let i = 0; i < this.engines.length; i++) {
                this.engines[i].scan();
                await this.step(i);
            }
            for (let i = 0; i < this.engines.length; i++) {
                await this.step(i);
            }
            if (this.snapshot() === before && this.engines.every((engine) => engine.queued.length === 0)) {
                return;
            }
        }
    }

    /** Every region's value of every key, and every state, as text (to see whether anything changed). */
    snapshot(): string {
        return JSON.stringify(
            this.vaults.map((vault) => this.options.keys.map((key) => [vault.current(key) ?? null, vault.current(stateKey(key)) ?? null])),
        );
    }

    /** Region `i`'s value of `key`'s `v` property, or undefined. */
    value(i: number, key: string): string | undefined {
        const data = this.vaults[i].current(key);
        return data === undefined ? undefined : String(data.v);
    }

    /** The stamp each region's state holds for `key`. */
    stateStamps(key: string): (string | undefined)[] {
        return this.vaults.map((vault) => {
            const state = vault.current(stateKey(key));
            return state === undefined ? undefined : String(state.stamp);
        });
    }

    /** Stamps of the writes and deletions each region made locally, with their key and value. */
    localStamps(): { region: number; key: string; stamp: Stamp; value: string | undefined }[] {
        return this.decided
            .filter((d) => d.decision.cause === "local" && d.decision.state !== undefined)
            .map((d) => ({
                region: d.region,
                key: d.key,
                stamp: d.decision.state?.stamp as Stamp,
                value: d.decision.state?.deleted ? undefined : d.decision.state?.data?.v,
            }));
    }
}
