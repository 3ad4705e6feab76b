/**
 * What `pulumi config set` and `pulumi config rm` do to a stack's config, to check the commands the
 * program and the docs tell operators to run. As the Pulumi CLI documents it
 * (https://www.pulumi.com/docs/iac/cli/commands/pulumi_config_set/): a key without a namespace is the
 * project's; without `--path` the key is one name, dots and all (`vault.replicas` is a flat key);
 * with `--path` it is a path into the namespace's top-level key (`vault.replicas`, `names[0]`), and a
 * value set at a path is a boolean for true/false, a number for an integer, else a string. Programs
 * receive objects and lists as JSON. Only the forms this project prints are modelled (no quoted
 * `["a.b"]` path segments).
 */

/** The words of a shell command line, with single-quoted words unquoted, up to a comment (` #...`). */
function words(command: string): string[] {
    const all = [...command.matchAll(/'([^']*)'|(\S+)/g)].map((m) => ({ word: m[1] ?? m[2], quoted: m[1] !== undefined }));
    const comment = all.findIndex(({ word, quoted }) => !quoted && word.startsWith("#"));
    return (comment === -1 ? all : all.slice(0, comment)).map(({ word }) => word);
}

/** `a.b[0].c` as path parts. */
function pathParts(key: string): (string | number)[] {
    return key.split(".").flatMap((part) => {
        const [name, ...indices] = part.split("[");
        return [...(name === "" ? [] : [name]), ...indices.map((index) => Number(index.replace(/]$/, "")))];
    });
}

/**
 * `config` after one `pulumi config set|rm [--path] [--secret] KEY [VALUE] [-s STACK]` of `project`.
 * @throws Error for any other command, so a test that feeds it something else fails
 */
export function applyConfigCommand(config: Readonly<Record<string, string>>, project: string, command: string): Record<string, string> {
    const [pulumi, group, verb, ...rest] = words(command);
    if (pulumi !== "pulumi" || group !== "config" || (verb !== "set" && verb !== "rm")) {
        throw new Error(`not a pulumi config set or rm command: ${command}`);
    }
    const flags = new Set(rest.filter((word) => word.startsWith("-")));
    const args = rest.filter((word, i) => !word.startsWith("-") && !(i > 0 && (rest[i - 1] === "-s" || rest[i - 1] === "--stack")));
    const [key, value] = args;
    if (key === undefined || (verb === "set" && value === undefined) || args.length > (verb === "set" ? 2 : 1)) {
        throw new Error(`cannot read the key and value of: ${command}`);
    }
    const colon = key.indexOf(":");
    const namespace = colon === -1 ? project : key.slice(0, colon);
    const name = colon === -1 ? key : key.slice(colon + 1);
    const next = { ...config };
    if (!flags.has("--path")) {
        if (verb === "rm") {
            delete next[`${namespace}:${name}`];
        } else {
            next[`${namespace}:${name}`] = value;
        }
        return next;
    }
    const [top, ...inner] = pathParts(name);
    const full = `${namespace}:${String(top)}`;
    if (inner.length === 0) {
        if (verb === "rm") {
            delete next[full];
        } else {
            next[full] = value;
        }
        return next;
    }
    const typed = value === "true" ? true : value === "false" ? false : /^-?\d+$/.test(value ?? "") ? Number(value) : value;
    const root: unknown = full in next ? JSON.parse(next[full]) : typeof inner[0] === "number" ? [] : {};
    let node = root as Record<string | number, unknown>;
    for (let i = 0; i < inner.length - 1; i++) {
        node[inner[i]] ??= typeof inner[i + 1] === "number" ? [] : {};
        node = node[inner[i]] as Record<string | number, unknown>;
    }
    const last = inner[inner.length - 1];
    if (verb === "rm") {
        delete node[last];
    } else {
        node[last] = typed;
    }
    next[full] = JSON.stringify(root);
    return next;
}
