/**
 * The bootstrap's non-interactive operator and its progress lines: encrypted material only, no
 * prompts, admin tokens from VAULT_TOKEN_<REGION>.
 */
import { BootstrapError } from "../bootstrap/orchestrator";
import { Sensitive } from "../bootstrap/sensitive";
import { LineProgress, NonInteractiveOperator, SpinnerProgress, adminTokenVariable, keyMaterialLines } from "../bootstrap/terminal";

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
        await expect(operator.keepOffline("eu-1", material(false))).rejects.toThrow("refusing to show unencrypted key material without a terminal");
        await expect(operator.keepOffline("eu-1", material(true, false))).rejects.toThrow("refusing to show unencrypted key material without a terminal");
        expect(written).toHaveLength(1);
    });

    it("never asks for unseal keys, and says what to do", async () => {
        await expect(new NonInteractiveOperator({}).unsealKeys("eu-1", 3)).rejects.toBeInstanceOf(BootstrapError);
    });

    it("reads admin tokens from VAULT_TOKEN_<REGION>", async () => {
        expect(adminTokenVariable("eu-west-1")).toBe("VAULT_TOKEN_EU_WEST_1");
        expect((await new NonInteractiveOperator({ VAULT_TOKEN_EU_1: "hvs.x" }).adminToken("eu-1")).reveal()).toBe("hvs.x");
        await expect(new NonInteractiveOperator({}).adminToken("eu-1")).rejects.toThrow("region eu-1: set VAULT_TOKEN_EU_1 to an admin token");
    });

    it("says whether what it shows is encrypted", () => {
        expect(keyMaterialLines("a", material(false))[0]).toBe("Region a: Vault is initialized. Its unseal keys (in the clear, shown this once) and root token (in the clear, shown this once):");
        expect(keyMaterialLines("a", material(true, false))[0]).toBe("Region a: Vault is initialized. Its unseal keys (PGP-encrypted) and root token (in the clear, shown this once):");
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
