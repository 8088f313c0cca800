// API bearer tokens: random, shown once, stored only as a SHA-256 hash; each
// for a role in one project (or platform-wide), optionally expiring, revocable.

import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { ApiToken, Store, TokenRole } from "../state/store.js";

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export interface TokenRequest {
  name: string;
  role: TokenRole;
  project: string | null;
  expiresAt: string | null;
  createdBy: string | null;
}

/** Creates a token and returns its secret value: the only time anyone sees it. */
export async function createToken(store: Store, request: TokenRequest): Promise<{ token: string; record: ApiToken }> {
  const token = `plumb_${randomBytes(32).toString("base64url")}`;
  const record: ApiToken = { id: randomUUID(), ...request, createdAt: new Date().toISOString(), lastUsedAt: null, revokedAt: null };
  await store.createToken(record, hashToken(token));
  return { token, record };
}

/** The first start of an agent creates a platform-admin token; later starts create none. */
export async function bootstrapAdminToken(store: Store): Promise<string | undefined> {
  if ((await store.countTokens()) > 0) return undefined;
  return (await createToken(store, { name: "bootstrap-admin", role: "platform-admin", project: null, expiresAt: null, createdBy: null })).token;
}
