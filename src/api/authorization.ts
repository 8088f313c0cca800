// Who may do what: a token's role in its project (or platform-wide), checked
// against what a route needs in the project of the stack it touches. A stack
// the caller may not see does not exist for it (404, its name never shown);
// one it may see but not act on is refused (403).

import type { ApiToken, TokenRole } from "../state/store.js";

/** What a route needs: read a stack, act on it (sync, rollback…), or manage the project's tokens. */
export type Permission = "view" | "operate" | "administer";

const rank: Record<TokenRole, number> = { viewer: 1, operator: 2, admin: 3, "platform-admin": 4 };
const needed: Record<Permission, number> = { view: 1, operate: 2, administer: 3 };

export function allows(token: ApiToken | undefined, permission: Permission, project: string): boolean {
  if (token === undefined) return false;
  if (token.role === "platform-admin") return true;
  if (token.project !== null && token.project !== project) return false;
  return rank[token.role] >= needed[permission];
}

/** Whether the token sees every project (platform-wide), for what belongs to no stack (token events, the platform's problems). */
export function platformWide(token: ApiToken | undefined): boolean {
  return token !== undefined && token.project === null;
}

/** The roles a token holder may give a new token: its own or lower, in its own project unless platform-admin. */
export function mayGrant(token: ApiToken | undefined, role: TokenRole, project: string | null): boolean {
  if (token === undefined) return false;
  if (token.role === "platform-admin") return true;
  if (role === "platform-admin" || rank[token.role] < rank.admin) return false;
  if (token.project !== null) return project === token.project && rank[role] <= rank[token.role];
  return rank[role] <= rank[token.role];
}
