/**
 * Evaluates a ValidatingAdmissionPolicy for one request as the API server's admission plugin does,
 * with a real CEL evaluator (`@bufbuild/cel`, which passes the CEL specification's conformance tests
 * and matches with RE2, as Kubernetes does): the resource rules, then the match conditions (all must
 * hold), then the variables in order (each may use the ones before it, as `variables.<name>`), then
 * every validation. A validation that is false, or whose expression fails to evaluate (a missing
 * field, say: the policies here fail closed, `failurePolicy: Fail`), refuses the request with its
 * message. Only what the project's policies use: no params, no audit annotations, the binding denies
 * everywhere.
 */
import { celEnv, celError, isCelError, parse, plan } from "@bufbuild/cel";
import type { AdmissionPolicy } from "../../components/stores/storeAdmission";

/** One admission request: the object as it reaches validating admission (schema-defaulted), and the old one on an update. */
export interface AdmissionRequest {
    readonly operation: "CREATE" | "UPDATE";
    /** The resource, as the API server names it: `external-secrets.io/v1/externalsecrets`. */
    readonly resource: string;
    readonly object: { readonly metadata: { readonly namespace?: string } };
    readonly oldObject?: object;
}

/** What the policy decides: not concerned (rules or match conditions), admitted, or refused with these messages. */
export type AdmissionOutcome =
    { readonly outcome: "not matched" } | { readonly outcome: "admitted" } | { readonly outcome: "denied"; readonly messages: string[] };

type Program = ReturnType<typeof plan>;
/** Each expression parsed and planned once (as the API server compiles a policy once), in one environment. */
const programs = new Map<string, Program | Error>();
const env = celEnv();

function evaluate(expression: string, context: Record<string, unknown>): { readonly value?: unknown; readonly error?: string } {
    let program = programs.get(expression);
    if (program === undefined) {
        try {
            program = plan(env, parse(expression));
        } catch (error) {
            program = error instanceof Error ? error : new Error(String(error));
        }
        programs.set(expression, program);
    }
    let value: unknown;
    try {
        value = program instanceof Error ? celError(program) : program(context as Parameters<Program>[0]);
    } catch (error) {
        value = celError(error);
    }
    return isCelError(value) ? { error: String(value) } : { value };
}

export function admit(policy: AdmissionPolicy, request: AdmissionRequest): AdmissionOutcome {
    const [group, version, resource] = request.resource.split("/");
    const matched = policy.spec.matchConstraints.resourceRules.some(
        (rule) =>
            rule.apiGroups.includes(group) &&
            rule.apiVersions.includes(version) &&
            rule.resources.includes(resource) &&
            rule.operations.includes(request.operation),
    );
    if (!matched) {
        return { outcome: "not matched" };
    }
    const context: Record<string, unknown> = {
        object: request.object,
        oldObject: request.oldObject ?? null,
        request: { operation: request.operation, namespace: request.object.metadata.namespace ?? "" },
    };
    for (const condition of policy.spec.matchConditions) {
        const { value, error } = evaluate(condition.expression, context);
        if (error !== undefined) {
            return { outcome: "denied", messages: [`match condition ${condition.name}: ${error}`] };
        }
        if (value !== true) {
            return { outcome: "not matched" };
        }
    }
    const variables: Record<string, unknown> = {};
    context.variables = variables;
    const failed: Record<string, string> = {};
    for (const variable of policy.spec.variables) {
        const { value, error } = evaluate(variable.expression, context);
        if (error !== undefined) {
            failed[variable.name] = error;
        } else {
            variables[variable.name] = value;
        }
    }
    const messages: string[] = [];
    for (const validation of policy.spec.validations) {
        const broken = Object.keys(failed).find((name) => validation.expression.includes(`variables.${name}`));
        const { value, error } =
            broken !== undefined ? { value: undefined, error: failed[broken] } : evaluate(validation.expression, context);
        if (error !== undefined) {
            messages.push(`${validation.message} (evaluation failed: ${error})`);
        } else if (value !== true) {
            messages.push(validation.message);
        }
    }
    return messages.length === 0 ? { outcome: "admitted" } : { outcome: "denied", messages };
}
