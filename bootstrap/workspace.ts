/**
 * The bootstrap's adapter to the region stacks: the Pulumi Automation API's local workspace over this
 * project (https://www.pulumi.com/docs/iac/packages-and-automation/automation-api/), which drives the
 * `pulumi` CLI. Thin on purpose: the decisions are in orchestrator.ts, tested with fakes.
 *
 * The admin token is put in the workspace's `envVars` (the environment of the CLI processes it starts)
 * for one `up` only, and removed afterwards; it is never set as config and never written to a file.
 */
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { readProject, readStackConfig } from "../stack/projectFiles";
import type { UpOptions, Workspace } from "./ports";
import { projectFileReader } from "./projectFileReader";

/** Calls `onOutput` with each non-empty line of the CLI's output. */
function lines(onOutput: (line: string) => void): (text: string) => void {
    return (text) => {
        for (const line of text.split("\n")) {
            if (line.trim() !== "") {
                onOutput(line);
            }
        }
    };
}

export class AutomationWorkspace implements Workspace {
    private workspace?: Promise<LocalWorkspace>;

    /** Reads a file named in config, relative to the project directory. */
    readonly readFile: (file: string) => string;

    constructor(private readonly projectDir: string) {
        this.readFile = projectFileReader(projectDir);
    }

    private local(): Promise<LocalWorkspace> {
        this.workspace ??= LocalWorkspace.create({ workDir: this.projectDir });
        return this.workspace;
    }

    private async stack(name: string): Promise<Stack> {
        return Stack.select(name, await this.local());
    }

    async stackExists(stack: string): Promise<boolean> {
        const stacks = await (await this.local()).listStacks();
        // Backends list stacks as `name` or `org/project/name`.
        return stacks.some((summary) => summary.name === stack || summary.name.endsWith(`/${stack}`));
    }

    async createStack(stack: string): Promise<void> {
        await Stack.create(stack, await this.local());
    }

    /** The config exactly as the CLI hands it to the program: project defaults, then the stack file. */
    config(stack: string): Promise<Record<string, string>> {
        return Promise.resolve(readStackConfig(readProject(this.projectDir), stack).config);
    }

    async setConfig(stack: string, key: string, value: string): Promise<void> {
        await (await this.stack(stack)).setConfig(key, { value, secret: false });
    }

    async up(stack: string, options: UpOptions): Promise<void> {
        const workspace = await this.local();
        const selected = await this.stack(stack);
        if (options.vaultToken !== undefined) {
            workspace.envVars.VAULT_TOKEN = options.vaultToken.reveal();
        }
        try {
            await selected.up({
                color: "never",
                onOutput: lines(options.onOutput),
                ...(options.targets === undefined ? {} : { target: [...options.targets] }),
                ...(options.refresh === true ? { refresh: true } : {}),
            });
        } finally {
            delete workspace.envVars.VAULT_TOKEN;
        }
    }

    async refresh(
        stack: string,
        options: { readonly targets: readonly string[]; readonly onOutput: (line: string) => void },
    ): Promise<void> {
        await (await this.stack(stack)).refresh({ color: "never", onOutput: lines(options.onOutput), target: [...options.targets] });
    }

    async resources(stack: string): Promise<string[]> {
        const state = (await (await this.stack(stack)).exportStack()) as { deployment?: { resources?: { urn?: unknown }[] } };
        return (state.deployment?.resources ?? []).flatMap((resource) => (typeof resource.urn === "string" ? [resource.urn] : []));
    }

    async outputs(stack: string): Promise<Record<string, unknown>> {
        const outputs = await (await this.stack(stack)).outputs();
        return Object.fromEntries(
            Object.entries(outputs).map(([name, output]) => [name, output.secret ? "[secret]" : (output.value as unknown)]),
        );
    }
}
