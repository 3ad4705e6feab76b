/**
 * Line diffs for the synth diff: the longest common subsequence of two sequences, and unified diffs
 * (`@@ -a,b +c,d @@` hunks with context) of two texts. Pure functions, no dependencies.
 */

/** One step of an edit script: an element kept, removed from `a` or added from `b`. */
export type Edit<T> = { readonly op: "keep"; readonly a: T; readonly b: T } | { readonly op: "remove"; readonly a: T } | { readonly op: "add"; readonly b: T };

/**
 * Above this many cells (elements of `a` times elements of `b`, once a common prefix and suffix are
 * set aside) the middle is reported as removed then added, rather than aligned: the alignment's table
 * grows with the product, and a document this different is read as a rewrite anyway.
 */
export const MAX_ALIGNED_CELLS = 4_000_000;

/**
 * An edit script turning `a` into `b` that keeps a longest common subsequence (by `key`), removals
 * before additions within each changed run, so the result is deterministic.
 */
export function sequenceDiff<T>(a: readonly T[], b: readonly T[], key: (item: T) => string = String): Edit<T>[] {
    const ka = a.map(key);
    const kb = b.map(key);
    let start = 0;
    while (start < a.length && start < b.length && ka[start] === kb[start]) {
        start++;
    }
    let endA = a.length;
    let endB = b.length;
    while (endA > start && endB > start && ka[endA - 1] === kb[endB - 1]) {
        endA--;
        endB--;
    }
    const edits: Edit<T>[] = [];
    for (let i = 0; i < start; i++) {
        edits.push({ op: "keep", a: a[i], b: b[i] });
    }
    const n = endA - start;
    const m = endB - start;
    if (n * m > MAX_ALIGNED_CELLS) {
        for (let i = start; i < endA; i++) {
            edits.push({ op: "remove", a: a[i] });
        }
        for (let j = start; j < endB; j++) {
            edits.push({ op: "add", b: b[j] });
        }
    } else if (n > 0 || m > 0) {
        // lengths[i][j]: the LCS length of a[start+i..endA) and b[start+j..endB).
        const width = m + 1;
        const lengths = new Uint32Array((n + 1) * width);
        for (let i = n - 1; i >= 0; i--) {
            for (let j = m - 1; j >= 0; j--) {
                lengths[i * width + j] =
                    ka[start + i] === kb[start + j]
                        ? lengths[(i + 1) * width + j + 1] + 1
                        : Math.max(lengths[(i + 1) * width + j], lengths[i * width + j + 1]);
            }
        }
        let i = 0;
        let j = 0;
        while (i < n || j < m) {
            if (i < n && j < m && ka[start + i] === kb[start + j]) {
                edits.push({ op: "keep", a: a[start + i], b: b[start + j] });
                i++;
                j++;
            } else if (j >= m || (i < n && lengths[(i + 1) * width + j] >= lengths[i * width + j + 1])) {
                edits.push({ op: "remove", a: a[start + i] });
                i++;
            } else {
                edits.push({ op: "add", b: b[start + j] });
                j++;
            }
        }
    }
    for (let i = endA; i < a.length; i++) {
        edits.push({ op: "keep", a: a[i], b: b[i - endA + endB] });
    }
    return edits;
}

/** The lines of a text, without the empty string after a final newline. */
export function textLines(text: string): string[] {
    if (text === "") {
        return [];
    }
    const lines = text.split("\n");
    return lines[lines.length - 1] === "" ? lines.slice(0, -1) : lines;
}

/**
 * The hunks of a unified diff of two texts (the `@@` lines and the lines prefixed with " ", "-" and
 * "+"), with `context` unchanged lines around each change; empty when the texts have the same lines.
 */
export function unifiedHunks(before: string, after: string, context = 3): string[] {
    const edits = sequenceDiff(textLines(before), textLines(after));
    const changed = edits.map((e, index) => (e.op === "keep" ? -1 : index)).filter((index) => index >= 0);
    if (changed.length === 0) {
        return [];
    }
    // Group changes whose context would touch or overlap into one hunk.
    const groups: [number, number][] = [];
    for (const index of changed) {
        const last = groups[groups.length - 1];
        if (last !== undefined && index - last[1] <= 2 * context + 1) {
            last[1] = index;
        } else {
            groups.push([index, index]);
        }
    }
    // Line numbers (1-based) of each edit in a and b.
    const lineA: number[] = [];
    const lineB: number[] = [];
    let na = 1;
    let nb = 1;
    for (const e of edits) {
        lineA.push(na);
        lineB.push(nb);
        if (e.op !== "add") {
            na++;
        }
        if (e.op !== "remove") {
            nb++;
        }
    }
    const out: string[] = [];
    for (const [first, last] of groups) {
        const from = Math.max(0, first - context);
        const to = Math.min(edits.length - 1, last + context);
        const slice = edits.slice(from, to + 1);
        const countA = slice.filter((e) => e.op !== "add").length;
        const countB = slice.filter((e) => e.op !== "remove").length;
        // As diff(1) does: an empty side starts at the line before it (0 for an empty file).
        const startA = countA === 0 ? lineA[from] - 1 : lineA[from];
        const startB = countB === 0 ? lineB[from] - 1 : lineB[from];
        out.push(`@@ -${startA},${countA} +${startB},${countB} @@`);
        for (const e of slice) {
            out.push(e.op === "keep" ? ` ${e.a}` : e.op === "remove" ? `-${e.a}` : `+${e.b}`);
        }
    }
    return out;
}

/**
 * A unified diff of two texts with `---`/`+++` header lines, or "" when their lines are the same.
 * `undefined` for a side means the text does not exist there (the header then says `/dev/null`).
 */
export function unifiedDiff(before: string | undefined, after: string | undefined, labels: { before: string; after: string }, context = 3): string {
    const hunks = unifiedHunks(before ?? "", after ?? "", context);
    if (hunks.length === 0) {
        return "";
    }
    const header = [`--- ${before === undefined ? "/dev/null" : labels.before}`, `+++ ${after === undefined ? "/dev/null" : labels.after}`];
    return `${[...header, ...hunks].join("\n")}\n`;
}
