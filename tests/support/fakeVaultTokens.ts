/**
 * Fakes for Vault's token store, as the token renewer meets it.
 *
 * - {@link FakeTokenStore}: periodic tokens with an explicit maximum lifetime, as Vault treats them
 *   (Vault's `sdk/framework/lease.go` `CalculateTTL`, called by `vault/token_store.go`
 *   `handleCreateCommon` at creation and by the expiration manager on renewal): the TTL is the period,
 *   the period capped at the smaller of the mount's max TTL and the explicit max TTL; the TTL is
 *   then capped at what is left until creation + explicit max TTL; past that, renewal fails ("past
 *   the max TTL, cannot renew"); a token not renewed within its TTL expires and is revoked, after
 *   which its accessor is unknown.
 * - {@link FAKE_VAULT_FUNCTION}: the Vault CLI calls the renewer's script makes, as a POSIX `sh`
 *   function `vault`, answering from a table the test writes (what the store would answer for each
 *   accessor at that moment) and recording every call. {@link fakeVaultExecutable} wraps it as a
 *   `vault` executable for PATH. It uses shell builtins only, so a run costs no process but the
 *   script's own.
 */

/** A token as the fake store keeps it; times in seconds from the simulation's start. */
interface FakeToken {
    readonly accessor: string;
    readonly created: number;
    readonly period: number;
    readonly explicitMax: number;
    expiresAt: number;
    revoked: boolean;
}

export type RenewAnswer = { readonly ttl: number } | { readonly error: string };

export class FakeTokenStore {
    private readonly tokens = new Map<string, FakeToken>();
    private count = 0;

    /** @param mountMaxTtl the token mount's max TTL (Vault's default: 32 days) */
    constructor(readonly mountMaxTtl = 32 * 86_400) {}

    /** Creates a periodic token at `now`; @returns its accessor. */
    create(now: number, settings: { readonly period: number; readonly explicitMax: number }): string {
        this.count++;
        const accessor = `fakeaccessor${String(this.count).padStart(12, "0")}`;
        const token: FakeToken = { accessor, created: now, ...settings, expiresAt: now, revoked: false };
        token.expiresAt = now + this.ttl(token, now);
        this.tokens.set(accessor, token);
        return accessor;
    }

    /** The TTL Vault grants `token` at `now` (CalculateTTL for a periodic token with an explicit max TTL). */
    private ttl(token: FakeToken, now: number): number {
        const maxTtl = Math.min(this.mountMaxTtl, token.explicitMax);
        const period = Math.min(token.period, maxTtl);
        return Math.min(period, token.created + token.explicitMax - now);
    }

    /** What `auth/token/renew-accessor` answers at `now`, without changing anything. */
    answer(accessor: string, now: number): RenewAnswer {
        const token = this.tokens.get(accessor);
        if (token === undefined || !this.isValid(accessor, now)) {
            return { error: "invalid accessor" };
        }
        const ttl = this.ttl(token, now);
        return ttl <= 0 ? { error: "past the max TTL, cannot renew" } : { ttl };
    }

    /** Renews by accessor at `now`, as Vault does. */
    renew(accessor: string, now: number): RenewAnswer {
        const answer = this.answer(accessor, now);
        const token = this.tokens.get(accessor);
        if ("ttl" in answer && token !== undefined) {
            token.expiresAt = now + answer.ttl;
        }
        return answer;
    }

    /** Whether the token still authenticates at `now`. */
    isValid(accessor: string, now: number): boolean {
        const token = this.tokens.get(accessor);
        return token !== undefined && !token.revoked && now < token.expiresAt;
    }

    /** Seconds the token has left at `now` (0 once expired). */
    remaining(accessor: string, now: number): number {
        const token = this.tokens.get(accessor);
        return token === undefined || !this.isValid(accessor, now) ? 0 : token.expiresAt - now;
    }

    /** Revokes the token (`vault token revoke -accessor`): it stops authenticating, and its renewal fails. */
    revoke(accessor: string): void {
        const token = this.tokens.get(accessor);
        if (token !== undefined) {
            token.revoked = true;
        }
    }

    /** Every accessor the store knows. */
    accessors(): string[] {
        return [...this.tokens.keys()];
    }
}

/**
 * The fake Vault CLI, as a shell function. Environment:
 * - `FAKE_TABLE`: a file of lines `<accessor> ok <ttl>` or `<accessor> err <message>`, the renewal
 *   answers; without it, the shell variable `fake_table` holds those lines;
 * - `FAKE_LOG`: a file every call is appended to as `<auth> <arguments>`; without it, each call is
 *   written to file descriptor 3 as `@@call <auth> <arguments>`. `<auth>` is `job-token` when the
 *   call carries the job's token by the CLI's token file (`$HOME/.vault-token`) and VAULT_TOKEN is
 *   unset, `env-token` when VAULT_TOKEN is set, `none` otherwise;
 * - `FAKE_TOKEN`: the token the login returns; `FAKE_JWT`: the service-account token it expects;
 * - `FAKE_LOGIN_FAIL`, `FAKE_REVOKE_FAIL`: fail that call.
 * Output as the CLI's with `-field` into a file: the value without a newline.
 */
export const FAKE_VAULT_FUNCTION = `
fake_lookup() {
    while read -r fake_accessor fake_kind fake_rest; do
        if [ "$1" = "accessor=$fake_accessor" ]; then
            fake_found=$fake_kind
            return 0
        fi
    done
}

vault() {
    fake_auth=none
    if [ -n "\${VAULT_TOKEN:-}" ]; then
        fake_auth=env-token
    elif [ -f "$HOME/.vault-token" ]; then
        fake_held=
        read -r fake_held < "$HOME/.vault-token" || :
        if [ "$fake_held" = "$FAKE_TOKEN" ]; then fake_auth=job-token; fi
    fi
    if [ -n "\${FAKE_LOG:-}" ]; then
        printf '%s %s\\n' "$fake_auth" "$*" >> "$FAKE_LOG"
    else
        printf '@@call %s %s\\n' "$fake_auth" "$*" >&3
    fi
    case "$1 $2" in
    "write -field=token")
        if [ -n "\${FAKE_LOGIN_FAIL:-}" ]; then
            printf 'Error writing data to %s: Error making API request.\\n\\nCode: 403. Errors:\\n\\n* permission denied\\n' "$3" >&2
            return 2
        fi
        fake_jwt=
        case "$5" in jwt=@*) read -r fake_jwt < "\${5#jwt=@}" || : ;; esac
        if [ "$fake_jwt" != "$FAKE_JWT" ]; then echo "Error writing data: invalid jwt" >&2; return 2; fi
        printf '%s' "$FAKE_TOKEN"
        ;;
    "write -field=token_duration")
        if [ "$fake_auth" != job-token ]; then echo "Error writing data to auth/token/renew-accessor: permission denied" >&2; return 2; fi
        fake_found=
        if [ -n "\${FAKE_TABLE:-}" ]; then
            fake_lookup "$4" < "$FAKE_TABLE"
        else
            fake_lookup "$4" <<FAKE_TABLE_TEXT
\${fake_table:-}
FAKE_TABLE_TEXT
        fi
        case "$fake_found" in
        ok) printf '%s' "$fake_rest" ;;
        err)
            printf 'Error writing data to auth/token/renew-accessor: Error making API request.\\n\\nURL: PUT %s/v1/auth/token/renew-accessor\\nCode: 400. Errors:\\n\\n* %s\\n' "\${VAULT_ADDR:-}" "$fake_rest" >&2
            return 2
            ;;
        *)
            printf 'Error writing data to auth/token/renew-accessor: Error making API request.\\n\\nCode: 400. Errors:\\n\\n* invalid accessor\\n' >&2
            return 2
            ;;
        esac
        ;;
    "token revoke")
        if [ -n "\${FAKE_REVOKE_FAIL:-}" ] || [ "$fake_auth" != job-token ]; then echo "Error revoking token: permission denied" >&2; return 2; fi
        echo "Success! Revoked token (if it existed)"
        ;;
    *)
        echo "fake vault: unexpected call: $*" >&2
        return 99
        ;;
    esac
}
`;

/** The fake as an executable for PATH: the function, called with the arguments. */
export function fakeVaultExecutable(): string {
    return `#!/bin/sh\n${FAKE_VAULT_FUNCTION}\nvault "$@"\nexit $?\n`;
}

/** The table {@link FAKE_VAULT_FUNCTION} answers renewals from: the store's answer for each accessor at `now`. */
export function answerTable(store: FakeTokenStore, now: number): string {
    return store
        .accessors()
        .map((accessor) => {
            const answer = store.answer(accessor, now);
            return "ttl" in answer ? `${accessor} ok ${answer.ttl}\n` : `${accessor} err ${answer.error}\n`;
        })
        .join("");
}
