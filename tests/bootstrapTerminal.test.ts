/**
 * The bootstrap's non-interactive operator and its progress lines: encrypted material only, no
 * prompts, admin tokens from VAULT_TOKEN_<REGION>.
 */
import { BootstrapError } from "../bootstrap/orchestrator";
import { Sensitive } from "../bootstrap/sensitive";
import {
    LineProgress,
    NonInteractiveOperator,
    SpinnerProgress,
    TerminalOperator,
    adminTokenVariable,
    keyMaterialLines,
} from "../bootstrap/terminal";

// The interactive operator's prompts: each confirmation is answered by the test; any other fails it.
const confirmations: { message: string; answer: boolean }[] = [];
jest.mock("@inquirer/prompts", () => ({
    confirm: ({ message }: { message: string }) => {
        const known = confirmations.find((c) => c.message === message);
        return known === undefined ? Promise.reject(new Error(`unexpected prompt: ${message}`)) : Promise.resolve(known.answer);
    },
    password: () => Promise.reject(new Error("no password prompt in these tests")),
}));

const material = (encrypted: boolean, rootTokenEncrypted = encrypted) => ({
    keys: [new Sensitive("k1"), new Sensitive("k2")],
    rootToken: new Sensitive("root"),
    keysEncrypted: encrypted,
    rootTokenEncrypted,
});

describe("non-interactive operator", () => {
    it("shows encrypted key material, and refuses to show it in the clear", async () => {
        const written: string[] = [];
        const operator = new NonInteractiveOperator({}, (text) => written.push(text));
        await operator.keepOffline("eu-1", material(true));
        expect(written.join("")).toContain("  Unseal key 2: k2\n");
        await expect(operator.keepOffline("eu-1", material(false))).rejects.toThrow(
            "refusing to show unencrypted key material without a terminal",
        );
        await expect(operator.keepOffline("eu-1", material(true, false))).rejects.toThrow(
            "refusing to show unencrypted key material without a terminal",
        );
        expect(written).toHaveLength(1);
    });

    it("never asks for unseal keys, and says what to do", async () => {
        await expect(new NonInteractiveOperator({}).unsealKeys("eu-1", 3)).rejects.toBeInstanceOf(BootstrapError);
    });

    it("reads admin tokens from VAULT_TOKEN_<REGION>", async () => {
        expect(adminTokenVariable("eu-west-1")).toBe("VAULT_TOKEN_EU_WEST_1");
        expect((await new NonInteractiveOperator({ VAULT_TOKEN_EU_1: "hvs.x" }).adminToken("eu-1")).reveal()).toBe("hvs.x");
        await expect(new NonInteractiveOperator({}).adminToken("eu-1")).rejects.toThrow(
            "region eu-1: set VAULT_TOKEN_EU_1 to an admin token",
        );
    });

    it("says whether what it shows is encrypted", () => {
        expect(keyMaterialLines("a", material(false))[0]).toBe(
            "Region a: Vault is initialized. Its unseal keys (in the clear, shown this once) and root token (in the clear, shown this once):",
        );
        expect(keyMaterialLines("a", material(true, false))[0]).toBe(
            "Region a: Vault is initialized. Its unseal keys (PGP-encrypted) and root token (in the clear, shown this once):",
        );
    });
});

describe("recovery keys (auto-unseal)", () => {
    const recovery = (encrypted: boolean) => ({ ...material(encrypted), recovery: true });

    it("are shown like unseal keys, labelled recovery keys, with a line saying they cannot unseal", () => {
        expect(keyMaterialLines("a", recovery(false))).toEqual([
            "Region a: Vault is initialized. Its recovery keys (in the clear, shown this once) and root token (in the clear, shown this once):",
            "  Recovery key 1: k1",
            "  Recovery key 2: k2",
            "  Initial root token: root",
            "Recovery keys cannot unseal this Vault (it unseals itself through its KMS): they authorize `vault operator generate-root` (a new root token) and seal migration.",
            "Store them offline now, each key with a different person. They are not kept anywhere else.",
        ]);
        // Unseal keys are shown as before: no recovery wording.
        expect(keyMaterialLines("a", material(false)).join("\n")).not.toMatch(/recovery/i);
    });

    it("at a terminal: shown once, confirmed as recovery keys, then cleared from the screen and scrollback", async () => {
        const written: string[] = [];
        let paused = 0;
        confirmations.push({ message: "Are all 2 recovery keys and the root token of eu-1 stored offline?", answer: true });
        await new TerminalOperator(
            (text) => written.push(text),
            () => paused++,
        ).keepOffline("eu-1", recovery(false));
        expect(paused).toBe(1);
        expect(written).toEqual([`\n${keyMaterialLines("eu-1", recovery(false)).join("\n")}\n\n`, "\x1b[H\x1b[2J\x1b[3J"]);
    });

    it("without a terminal, only encrypted, as unseal keys", async () => {
        const written: string[] = [];
        const operator = new NonInteractiveOperator({}, (text) => written.push(text));
        await operator.keepOffline("eu-1", recovery(true));
        expect(written.join("")).toContain("Its recovery keys (PGP-encrypted) and root token (PGP-encrypted):\n  Recovery key 1: k1\n");
        await expect(operator.keepOffline("eu-1", recovery(false))).rejects.toThrow(
            "refusing to show unencrypted key material without a terminal",
        );
        expect(written).toHaveLength(1);
    });
});

describe("an OpenBao region", () => {
    it("is named OpenBao, with the bao CLI, when its keys are shown or asked for", async () => {
        const lines = keyMaterialLines("a", { ...material(false), recovery: true, engine: "openbao" });
        expect(lines[0]).toBe(
            "Region a: OpenBao is initialized. Its recovery keys (in the clear, shown this once) and root token (in the clear, shown this once):",
        );
        expect(lines).toContain(
            "Recovery keys cannot unseal this OpenBao (it unseals itself through its KMS): they authorize `bao operator generate-root` (a new root token, for a caller who holds a token) and seal migration.",
        );
        const operator = new NonInteractiveOperator(
            {},
            () => undefined,
            () => "openbao",
        );
        await expect(operator.unsealKeys("eu-1", 3)).rejects.toThrow(
            "region eu-1: its OpenBao is sealed and a non-interactive run cannot ask for keys: decrypt 3 of its unseal keys and run the bootstrap in a terminal (or `bao operator unseal` each server), then run it again",
        );
        await expect(operator.adminToken("eu-1")).rejects.toThrow("region eu-1: set VAULT_TOKEN_EU_1 to an admin token for its OpenBao");
    });
});

describe("progress lines", () => {
    it("print each change once", () => {
        const written: string[] = [];
        const progress = new LineProgress((text) => written.push(text));
        progress.step("region1", "pods", "running", "1/3 running");
        progress.step("region1", "pods", "running", "1/3 running");
        progress.step("region1", "pods", "done", "3 running");
        expect(written).toEqual(["[..] region1      pods      1/3 running\n", "[ok] region1      pods      3 running\n"]);
    });
});

describe("the live progress view", () => {
    it("spins the running step, leaves each finished step as a line, and pauses for the operator", () => {
        const calls: string[] = [];
        let spinning = false;
        const spinner = {
            get isSpinning() {
                return spinning;
            },
            set text(value: string) {
                calls.push(`text ${value}`);
            },
            get text() {
                return "";
            },
            start: (text?: string) => {
                spinning = true;
                calls.push(`start ${text}`);
            },
            stop: () => {
                spinning = false;
                calls.push("stop");
            },
            succeed: (text?: string) => {
                spinning = false;
                calls.push(`ok ${text}`);
            },
            info: (text?: string) => {
                spinning = false;
                calls.push(`info ${text}`);
            },
            fail: (text?: string) => {
                spinning = false;
                calls.push(`fail ${text}`);
            },
        };
        const progress = new SpinnerProgress(spinner);
        progress.step("region1", "pods", "running", "waiting for vault-0");
        progress.step("region1", "pods", "running", "1/3 running");
        progress.pause();
        progress.pause();
        progress.step("region1", "pods", "done", "3 running");
        progress.step("region1", "init", "skipped", "already initialized");
        progress.step("region1", "verify", "failed", "1/2 stores Ready");
        progress.step("region1", "canary", "running");
        progress.abort();
        progress.abort();
        expect(calls).toEqual([
            "start region1 pods: waiting for vault-0",
            "text region1 pods: 1/3 running",
            "stop",
            "ok region1 pods: 3 running",
            "info region1 init: already initialized",
            "fail region1 verify: 1/2 stores Ready",
            "start region1 canary",
            "fail region1 canary: failed",
        ]);
    });
});
