/**
 * The end-to-end lane's report: each step records what it did in one JSON file, and the summary step
 * merges them into `e2e-report.json` and renders the job summary (Markdown). Pure.
 */
import type { CaseResult } from "./propagation";
import { renderRestore, type RestoreData } from "./restore";
import { STEPS } from "./steps";

/** What one step recorded. */
export interface StepRecord {
    readonly step: string;
    readonly ok: boolean;
    /** When it started (ISO 8601) and how long it took. */
    readonly startedAt: string;
    readonly seconds: number;
    /** One line per problem, when it failed. */
    readonly problems: readonly string[];
    /** What it measured or found, by step (e.g. the propagation's cases). */
    readonly data?: Readonly<Record<string, unknown>>;
}

/** The report as the artifact holds it. */
export interface LaneReport {
    readonly format: "openova-vault-e2e/1";
    readonly commit?: string;
    /** The pinned versions the lane ran with. */
    readonly versions: Readonly<Record<string, string>>;
    readonly steps: readonly StepRecord[];
}

/** The steps' records in the lane's order (a step recorded twice keeps its last record). */
export function mergeReport(records: readonly StepRecord[], versions: Readonly<Record<string, string>>, commit?: string): LaneReport {
    const order = STEPS.map((s) => s.name);
    const last = new Map(records.map((r) => [r.step, r]));
    const steps = [...last.values()].sort((a, b) => order.indexOf(a.step) - order.indexOf(b.step));
    return { format: "openova-vault-e2e/1", ...(commit === undefined ? {} : { commit }), versions, steps };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The propagation step's cases, when it recorded them. */
export function propagationCases(report: LaneReport): { cases: CaseResult[]; writes?: number; pollMs?: number } | undefined {
    const data = report.steps.find((s) => s.step === "propagation")?.data;
    if (data === undefined || !Array.isArray(data.cases)) {
        return undefined;
    }
    return {
        cases: data.cases as CaseResult[],
        ...(typeof data.writes === "number" ? { writes: data.writes } : {}),
        ...(typeof data.pollMs === "number" ? { pollMs: data.pollMs } : {}),
    };
}

/** The job summary, in Markdown. */
export function renderSummary(report: LaneReport): string {
    const lines: string[] = [
        "## End-to-end lane",
        "",
        "Measured by this run, on two kind clusters on one machine (docs/e2e.md says what that proves and what it cannot). " +
            "The bounds are the replication model's (docs/consistency.md), computed from each secret's intervals: they are not measurements.",
        "",
        "| Step | Result | Time |",
        "|---|---|---|",
        ...report.steps.map((s) => `| ${s.step} | ${s.ok ? "passed" : "**failed**"} | ${seconds(s.seconds * 1000)} |`),
    ];
    const notRun = STEPS.map((s) => s.name).filter((name) => !report.steps.some((s) => s.step === name));
    if (notRun.length > 0) {
        lines.push("", `Not run: ${notRun.join(", ")}.`);
    }
    const propagation = propagationCases(report);
    if (propagation !== undefined && propagation.cases.length > 0) {
        lines.push(
            "",
            "### Propagation",
            "",
            `From the end of a write until every region's Kubernetes Secret held the value: ${propagation.writes ?? "?"} timed writes per row, ` +
                `after an untimed first one; every region looked at every ${propagation.pollMs === undefined ? "?" : seconds(propagation.pollMs)}.`,
            "",
            "| Secret | Mode | Written in | Writes | Median | Max | Model bound | Over the bound |",
            "|---|---|---|---|---|---|---|---|",
            ...propagation.cases.map((c) =>
                [
                    c.secret,
                    c.mode,
                    c.writer,
                    String(c.samplesMs.length),
                    c.medianMs === undefined ? "–" : seconds(c.medianMs),
                    c.maxMs === undefined ? "–" : seconds(c.maxMs),
                    c.bound === undefined ? "none stated" : `${seconds(c.bound.ms)} (${c.bound.formula})`,
                    c.failure !== undefined ? "**lost**" : c.bound === undefined ? "–" : c.overBound === 0 ? "0" : `**${c.overBound}**`,
                ]
                    .join(" | ")
                    .replace(/^/, "| ")
                    .concat(" |"),
            ),
        );
    }
    const restore = report.steps.find((s) => s.step === "restore");
    if (restore?.data !== undefined && typeof restore.data.region === "string") {
        lines.push("", ...renderRestore(restore.data as unknown as RestoreData));
    }
    const problems = report.steps.flatMap((s) => s.problems.map((p) => `${s.step}: ${p}`));
    if (problems.length > 0) {
        lines.push("", "### Problems", "", ...problems.map((p) => `- ${p}`));
    }
    const versions = Object.entries(report.versions);
    if (versions.length > 0) {
        lines.push("", "### Versions", "", ...versions.map(([name, version]) => `- ${name}: \`${version}\``));
    }
    if (report.commit !== undefined) {
        lines.push("", `Commit \`${report.commit}\`.`);
    }
    return `${lines.join("\n")}\n`;
}
