// Who may do what. A caller is a principal: a token (one role in one project,
// or platform-wide) or a person signed in through single sign-on (the roles
// the platform gives their groups, project by project). What a route needs in
// the project of the stack it touches is checked against those grants. A
// stack the caller may not see does not exist for it (404, its name never
// shown); one it may see but not act on is refused (403).

import type { ApiToken, TokenRole } from "../state/store.js";

/** What a route needs: read a stack, act on it (sync, rollback…), or manage the project's tokens. */
export type Permission = "view" | "operate" | "administer";

/** One role, in one project or (project null) in every project. */
export interface Grant {
  project: string | null;
  role: TokenRole;
}

export interface Principal {
  /** A token's name, or the signed-in person's (e-mail, else subject). */
  name: string;
  kind: "token" | "user";
  grants: readonly Grant[];
  expiresAt: string | null;
  /** A cookie session's anti-forgery token: sent back in x-csrf-token on every request that changes something. */
  csrf?: string;
}

const rank: Record<TokenRole, number> = { viewer: 1, operator: 2, admin: 3, "platform-admin": 4 };
const needed: Record<Permission, number> = { view: 1, operate: 2, administer: 3 };

export function tokenPrincipal(token: ApiToken): Principal {
  return { name: token.name, kind: "token", grants: [{ project: token.project, role: token.role }], expiresAt: token.expiresAt };
}

export function allows(principal: Principal | undefined, permission: Permission, project: string): boolean {
  return (principal?.grants ?? []).some(
    (grant) => grant.role === "platform-admin" || ((grant.project === null || grant.project === project) && rank[grant.role] >= needed[permission]),
  );
}

export function isPlatformAdmin(principal: Principal | undefined): boolean {
  return (principal?.grants ?? []).some((grant) => grant.role === "platform-admin");
}

/** Whether the caller sees every project, for what belongs to no stack (token events, the platform's problems). */
export function platformWide(principal: Principal | undefined): boolean {
  return (principal?.grants ?? []).some((grant) => grant.project === null);
}

/** Whether the caller manages the tokens of `project` (null: platform-wide tokens, platform-admin only). */
export function administers(principal: Principal | undefined, project: string | null): boolean {
  return isPlatformAdmin(principal) || (project !== null && allows(principal, "administer", project));
}

/** Whether the caller may make a token with this role for `project`: its own role or lower, where it administers. */
export function mayGrant(principal: Principal | undefined, role: TokenRole, project: string | null): boolean {
  if (isPlatformAdmin(principal)) return true;
  if (role === "platform-admin") return false;
  return (principal?.grants ?? []).some(
    (grant) => rank[grant.role] >= rank.admin && rank[role] <= rank[grant.role] && (grant.project === null ? true : project === grant.project),
  );
}

/** The highest role a principal holds, for display. */
export function highestRole(principal: Principal | undefined): TokenRole {
  return (principal?.grants ?? []).reduce<TokenRole>((best, grant) => (rank[grant.role] > rank[best] ? grant.role : best), "viewer");
}
