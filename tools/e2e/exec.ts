/**
 * How the end-to-end lane runs the tools: a child process with its output collected (and, when asked,
 * shown as it comes), never with a secret on its command line: secrets go through stdin or the
 * environment. In GitHub Actions, every secret the lane makes or decrypts is masked in the log first.
 */
import { spawn } from "node:child_process";

export interface RunOptions {
    readonly cwd?: string;
    readonly env?: NodeJS.ProcessEnv;
    /** Written to the process's stdin. */
    readonly input?: string | Buffer;
    /** Show its output as it comes (never for a command whose output is secret). */
    readonly echo?: boolean;
    /** Resolve with a non-zero exit code instead of throwing. */
    readonly allowFailure?: boolean;
}

export interface RunResult {
    readonly code: number;
    readonly stdout: string;
    /** The same output as bytes, for a command whose output is binary. */
    readonly stdoutBytes: Buffer;
    readonly stderr: string;
}

/** A command that failed: its name, arguments and exit code, and the end of its error output. */
export class CommandError extends Error {
    constructor(
        readonly command: string,
        readonly result: RunResult,
    ) {
        const tail = result.stderr.trim().split("\n").slice(-5).join("\n");
        super(`${command} exited with ${result.code}${tail === "" ? "" : `:\n${tail}`}`);
        this.name = "CommandError";
    }
}

export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const shown = [command, ...args].join(" ");
    if (options.echo === true) {
        console.log(`$ ${shown}`);
    }
    return new Promise((resolve, reject) => {
        const child = spawn(command, [...args], { cwd: options.cwd, env: options.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout.on("data", (chunk: Buffer) => {
            out.push(chunk);
            if (options.echo === true) {
                process.stdout.write(chunk);
            }
        });
        child.stderr.on("data", (chunk: Buffer) => {
            err.push(chunk);
            if (options.echo === true) {
                process.stderr.write(chunk);
            }
        });
        child.on("error", (error) => reject(new Error(`${command}: ${error.message}`)));
        child.on("close", (code) => {
            const bytes = Buffer.concat(out);
            const result = {
                code: code ?? 1,
                stdout: bytes.toString("utf8"),
                stdoutBytes: bytes,
                stderr: Buffer.concat(err).toString("utf8"),
            };
            if (result.code !== 0 && options.allowFailure !== true) {
                reject(new CommandError(shown, result));
            } else {
                resolve(result);
            }
        });
        child.stdin.on("error", () => undefined);
        child.stdin.end(options.input ?? "");
    });
}

/** `kubectl --context <context> ...`, its output as JSON. */
export async function kubectlJson(context: string, args: readonly string[], options: RunOptions = {}): Promise<unknown> {
    const { stdout } = await run("kubectl", ["--context", context, ...args], options);
    return JSON.parse(stdout) as unknown;
}

/**
 * Hides a value in the rest of a GitHub Actions job's log (the `add-mask` workflow command). Outside
 * Actions it does nothing: the lane prints no secret anyway.
 */
export function mask(
    value: string,
    env: NodeJS.ProcessEnv = process.env,
    write: (text: string) => void = (t) => void process.stdout.write(t),
): void {
    if (env.GITHUB_ACTIONS === "true" && value !== "") {
        write(`::add-mask::${value}\n`);
    }
}
