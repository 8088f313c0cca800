// API bearer tokens: random, shown once, stored only as a SHA-256 hash.

import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { ApiToken, Store, TokenRole } from "../state/store.js";

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** Creates a token and returns its secret value: the only time anyone sees it. */
export async function createToken(store: Store, name: string, role: TokenRole): Promise<{ token: string; record: ApiToken }> {
  const token = `plumb_${randomBytes(32).toString("base64url")}`;
  const record: ApiToken = { id: randomUUID(), name, role, createdAt: new Date().toISOString() };
  await store.createToken(record, hashToken(token));
  return { token, record };
}

/** The first start of an agent creates an admin token; later starts create none. */
export async function bootstrapAdminToken(store: Store): Promise<string | undefined> {
  if ((await store.countTokens()) > 0) return undefined;
  return (await createToken(store, "bootstrap-admin", "admin")).token;
}
