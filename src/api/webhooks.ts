// Git push webhooks from GitHub, GitLab, Gitea/Forgejo and a generic HMAC
// sender. The signature is checked on the raw bytes before anything parses them.

import { createHmac, timingSafeEqual } from "node:crypto";

export type WebhookVerdict = { ok: true; sender: string } | { ok: false; reason: string };

function safeEqual(left: string, right: string): boolean {
  const a = Buffer.from(left);
  const b = Buffer.from(right);
  return a.length === b.length && timingSafeEqual(a, b);
}

function hmacHex(secret: string, body: Buffer): string {
  return createHmac("sha256", secret).update(body).digest("hex");
}

/** Checks whichever signature header the sender used; headers are lower-case as Node gives them. */
export function verifyWebhook(headers: Record<string, string | string[] | undefined>, body: Buffer, secret: string): WebhookVerdict {
  const header = (name: string): string | undefined => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const expected = hmacHex(secret, body);
  const prefixed = [
    ["github", header("x-hub-signature-256")],
    ["generic", header("x-plumb-signature")],
  ] as const;
  for (const [sender, value] of prefixed) {
    if (value === undefined) continue;
    return value.startsWith("sha256=") && safeEqual(value.slice("sha256=".length).toLowerCase(), expected)
      ? { ok: true, sender }
      : { ok: false, reason: `the ${sender} signature does not match` };
  }
  const bare = [
    ["gitea", header("x-gitea-signature")],
    ["forgejo", header("x-forgejo-signature")],
  ] as const;
  for (const [sender, value] of bare) {
    if (value === undefined) continue;
    return safeEqual(value.toLowerCase(), expected) ? { ok: true, sender } : { ok: false, reason: `the ${sender} signature does not match` };
  }
  const gitlab = header("x-gitlab-token");
  if (gitlab !== undefined) return safeEqual(gitlab, secret) ? { ok: true, sender: "gitlab" } : { ok: false, reason: "the GitLab token does not match" };
  return { ok: false, reason: "the request is not signed (X-Hub-Signature-256, X-Gitlab-Token, X-Gitea-Signature, X-Forgejo-Signature or X-Plumb-Signature)" };
}

export interface PushNotice {
  /** Every URL the payload gives for the repository (https, ssh, web). */
  repositoryUrls: string[];
  /** refs/heads/… or refs/tags/…, when the payload says. */
  ref: string | undefined;
}

/** The repository and ref of a push payload from any of the supported senders; undefined when the body is not a push. */
export function readPush(payload: unknown): PushNotice | undefined {
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) return undefined;
  const body = payload as Record<string, unknown>;
  const strings = (value: unknown, keys: readonly string[]): string[] => {
    if (typeof value !== "object" || value === null) return [];
    const record = value as Record<string, unknown>;
    return keys.map((key) => record[key]).filter((item): item is string => typeof item === "string" && item.length > 0 && item.length < 2048);
  };
  const urls = [
    ...strings(body.repository, ["clone_url", "html_url", "ssh_url", "git_url", "git_http_url", "git_ssh_url", "url"]),
    ...strings(body.project, ["git_http_url", "git_ssh_url", "web_url"]),
  ];
  if (typeof body.repository === "string" && body.repository.length < 2048) urls.push(body.repository);
  if (urls.length === 0) return undefined;
  const ref = typeof body.ref === "string" && body.ref.length < 1024 ? body.ref : undefined;
  return { repositoryUrls: [...new Set(urls)], ref };
}
