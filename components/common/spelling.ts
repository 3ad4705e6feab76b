/**
 * The nearest known name to a misspelt one, for "did you mean" suggestions in config errors and on
 * command lines.
 */

/** The edit distance of two strings, a swap of two neighbouring characters counting as one edit. */
export function editDistance(a: string, b: string): number {
    const d = Array.from({ length: a.length + 1 }, (_, i) =>
        Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
    );
    for (let i = 1; i <= a.length; i++) {
        for (let j = 1; j <= b.length; j++) {
            const cost = a[i - 1] === b[j - 1] ? 0 : 1;
            d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
            if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
                d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
            }
        }
    }
    return d[a.length][b.length];
}

/**
 * The known names closest to `name`: a case slip, or within two edits (one for names of up to four
 * characters), the nearest first; none when nothing is that close.
 */
export function closestNames(name: string, known: readonly string[]): string[] {
    const limit = name.length <= 4 ? 1 : 2;
    const scored = known
        .map((candidate) => ({ candidate, distance: candidate.toLowerCase() === name.toLowerCase() ? 0 : editDistance(name, candidate) }))
        .filter((s) => s.distance <= limit);
    const best = Math.min(...scored.map((s) => s.distance));
    return scored.filter((s) => s.distance === best).map((s) => s.candidate);
}

/** The one nearest known name, if any is close. */
export function closest(name: string, known: readonly string[]): string | undefined {
    return closestNames(name, known)[0];
}
