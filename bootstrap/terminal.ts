/**
 * The bootstrap's operator and progress, as a person at a terminal (prompts from `@inquirer/prompts`)
 * or a non-interactive run sees them.
 *
 * Where key material may appear: only on the interactive terminal (stdin and stdout are TTYs, checked
 * by the command before anything happens), once, followed by a confirmation and a cleared screen;
 * non-interactive runs show only PGP-encrypted material, and never ask for keys.
 */
import { confirm, password } from "@inquirer/prompts";
import { type Engine, engineFacts } from "../components/common/engine";
import { BootstrapError } from "./orchestrator";
import type { KeyMaterial, Operator, Progress, StepState } from "./ports";
import { Sensitive } from "./sensitive";

type Write = (text: string) => void;
const stdout: Write = (text) => void process.stdout.write(text);

/**
 * The lines that show new key material, for a terminal (plain) or a log (PGP-encrypted): unseal keys,
 * or an auto-unseal Vault's recovery keys, labelled as such and said not to unseal.
 */
export function keyMaterialLines(region: string, material: KeyMaterial): string[] {
    const how = (encrypted: boolean) => (encrypted ? "PGP-encrypted" : "in the clear, shown this once");
    const kind = material.recovery === true ? "Recovery" : "Unseal";
    const { product, cli, rootGeneration } = engineFacts(material.engine);
    return [
        `Region ${region}: ${product} is initialized. Its ${kind.toLowerCase()} keys (${how(material.keysEncrypted)}) and root token (${how(material.rootTokenEncrypted)}):`,
        ...material.keys.map((key, i) => `  ${kind} key ${i + 1}: ${key.reveal()}`),
        `  Initial root token: ${material.rootToken.reveal()}`,
        ...(material.recovery === true
            ? [
                  `Recovery keys cannot unseal this ${product} (it unseals itself through its KMS): they authorize \`${cli} operator generate-root\` (a new root token${rootGeneration === "token" ? ", for a caller who holds a token" : ""}) and seal migration.`,
              ]
            : []),
        "Store them offline now, each key with a different person. They are not kept anywhere else.",
    ];
}

/** Clears the screen and the terminal's scrollback (ED 2 and ED 3), so the keys are not left there. */
const CLEAR_SCREEN_AND_SCROLLBACK = "\x1b[H\x1b[2J\x1b[3J";

/** The engine of a region, for the operator's words. */
type EngineOf = (region: string) => Engine;
const vaultEverywhere: EngineOf = () => "vault";

/**
 * A person at the terminal. `pause` stops a live progress view before anything is shown or asked;
 * `engineOf` names each region's engine (default Vault everywhere).
 */
export class TerminalOperator implements Operator {
    constructor(
        private readonly write: Write = stdout,
        private readonly pause: () => void = () => undefined,
        private readonly engineOf: EngineOf = vaultEverywhere,
    ) {}

    async keepOffline(region: string, material: KeyMaterial): Promise<void> {
        this.pause();
        this.write(`\n${keyMaterialLines(region, material).join("\n")}\n\n`);
        try {
            const keys = material.recovery === true ? "recovery keys" : "keys";
            while (
                !(await confirm({
                    message: `Are all ${material.keys.length} ${keys} and the root token of ${region} stored offline?`,
                    default: false,
                }))
            ) {
                this.write("They are not shown again once you go on. Store them, then answer yes.\n");
            }
        } finally {
            // Off the screen and out of the scrollback, also when the operator stops here (Ctrl+C).
            this.write(CLEAR_SCREEN_AND_SCROLLBACK);
        }
    }

    /** Asked only for a Shamir Vault: an auto-unseal Vault unseals itself, and its recovery keys cannot unseal. */
    async unsealKeys(region: string, threshold: number): Promise<Sensitive[]> {
        this.pause();
        this.write(
            `Region ${region}: its ${engineFacts(this.engineOf(region)).product} is sealed and this run holds no keys for it; enter ${threshold} unseal keys.\n`,
        );
        const keys: Sensitive[] = [];
        for (let i = 1; i <= threshold; i++) {
            keys.push(new Sensitive(await password({ message: `Unseal key ${i} of ${threshold} for ${region}`, mask: "*" })));
        }
        return keys;
    }

    async adminToken(region: string): Promise<Sensitive> {
        this.pause();
        return new Sensitive(
            await password({
                message: `An admin token for the ${engineFacts(this.engineOf(region)).product} of ${region} (the root token, or one with the admin policy)`,
                mask: "*",
            }),
        );
    }
}

/** The environment variable a non-interactive run reads a region's admin token from. */
export function adminTokenVariable(region: string): string {
    return `VAULT_TOKEN_${region.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

/** A run without a terminal: it shows only encrypted material and asks nobody. `engineOf` names each region's engine. */
export class NonInteractiveOperator implements Operator {
    constructor(
        private readonly environment: NodeJS.ProcessEnv = process.env,
        private readonly write: Write = stdout,
        private readonly engineOf: EngineOf = vaultEverywhere,
    ) {}

    keepOffline(region: string, material: KeyMaterial): Promise<void> {
        if (!material.keysEncrypted || !material.rootTokenEncrypted) {
            // The options check refuses this before anything runs; this is the last line of defence.
            return Promise.reject(new BootstrapError([`region ${region}: refusing to show unencrypted key material without a terminal`]));
        }
        this.write(`${keyMaterialLines(region, material).join("\n")}\n`);
        return Promise.resolve();
    }

    unsealKeys(region: string, threshold: number): Promise<Sensitive[]> {
        const { product, cli } = engineFacts(this.engineOf(region));
        return Promise.reject(
            new BootstrapError([
                `region ${region}: its ${product} is sealed and a non-interactive run cannot ask for keys: decrypt ${threshold} of its unseal keys and run the bootstrap in a terminal (or \`${cli} operator unseal\` each server), then run it again`,
            ]),
        );
    }

    adminToken(region: string): Promise<Sensitive> {
        const name = adminTokenVariable(region);
        const token = this.environment[name];
        if (token === undefined || token === "") {
            return Promise.reject(
                new BootstrapError([
                    `region ${region}: set ${name} to an admin token for its ${engineFacts(this.engineOf(region)).product} (the decrypted root token, say) and run again`,
                ]),
            );
        }
        return Promise.resolve(new Sensitive(token));
    }
}

const MARK: Record<StepState, string> = { running: "..", done: "ok", skipped: "--", failed: "!!" };

/** Progress as one line per change of a region's step, in a terminal or a log alike. */
export class LineProgress implements Progress {
    private readonly last = new Map<string, string>();

    constructor(private readonly write: Write = stdout) {}

    step(region: string, step: string, state: StepState, detail?: string): void {
        const line = `[${MARK[state]}] ${region.padEnd(12)} ${step.padEnd(9)} ${detail ?? state}`;
        if (this.last.get(`${region}/${step}`) !== line) {
            this.last.set(`${region}/${step}`, line);
            this.write(`${line}\n`);
        }
    }
}

/** The part of an `ora` spinner the live progress view uses. */
export interface Spinner {
    readonly isSpinning: boolean;
    text: string;
    start(text?: string): unknown;
    stop(): unknown;
    succeed(text?: string): unknown;
    info(text?: string): unknown;
    fail(text?: string): unknown;
}

/**
 * Progress as a live view at a terminal (an `ora` spinner): the step running spins with its latest
 * detail; a finished step stays as one line, marked done, skipped or failed. `pause` stops the spinner
 * while the operator is shown something or asked; the next step starts it again.
 */
export class SpinnerProgress implements Progress {
    private current = "";

    constructor(private readonly spinner: Spinner) {}

    step(region: string, step: string, state: StepState, detail?: string): void {
        const text = `${region} ${step}${detail ? `: ${detail}` : ""}`;
        this.current = `${region} ${step}`;
        switch (state) {
            case "running":
                if (this.spinner.isSpinning) {
                    this.spinner.text = text;
                } else {
                    this.spinner.start(text);
                }
                return;
            case "done":
                this.spinner.succeed(text);
                return;
            case "skipped":
                this.spinner.info(text);
                return;
            case "failed":
                this.spinner.fail(text);
                return;
        }
    }

    pause(): void {
        if (this.spinner.isSpinning) {
            this.spinner.stop();
        }
    }

    /** The run ended with an error: the step that was running stays on screen, marked failed. */
    abort(): void {
        if (this.spinner.isSpinning) {
            this.spinner.fail(`${this.current}: failed`);
        }
    }
}
