import { describe, expect, it } from "vitest";
import { backoffDelay, backoffOf, checkWindows, parseDuration, syncAllowed, withJitter } from "../src/schedule.js";
import { normalizeRepositoryUrl } from "../src/agent/push-match.js";
import { readPush, verifyWebhook } from "../src/api/webhooks.js";
import { createHmac } from "node:crypto";

describe("agent timing", () => {
  it("reads durations and refuses what is not one", () => {
    expect(parseDuration("1h30m", "x")).toBe(5_400_000);
    expect(parseDuration("250ms", "x")).toBe(250);
    expect(() => parseDuration("5 minutes", "stacks/a.yaml:3")).toThrow(/stacks\/a\.yaml:3.*not a duration/);
  });

  it("spreads polls by at most ten percent", () => {
    expect(withJitter(1000, () => 0)).toBe(900);
    expect(withJitter(1000, () => 1)).toBe(1100);
  });

  it("backs off exponentially up to the cap", () => {
    const backoff = backoffOf({ retry: { limit: 3, backoff: { duration: "2s", factor: 3, max: "30s" } } }, "x");
    expect([1, 2, 3, 4].map((failures) => backoffDelay(backoff, failures))).toEqual([2000, 6000, 18000, 30000]);
    expect(backoffOf({}, "x")).toMatchObject({ limit: undefined, initialMs: 5000, factor: 2, maxMs: 180000 });
  });

  it("holds automatic applies inside deny windows and outside allow windows", () => {
    const at = (iso: string) => new Date(iso);
    const nightly = [{ kind: "deny" as const, schedule: "0 22 * * *", duration: "8h" }];
    expect(syncAllowed(nightly, at("2026-03-02T23:30:00Z")).allowed).toBe(false);
    expect(syncAllowed(nightly, at("2026-03-03T05:59:00Z")).allowed).toBe(false);
    expect(syncAllowed(nightly, at("2026-03-03T06:01:00Z")).allowed).toBe(true);
    const office = [{ kind: "allow" as const, schedule: "0 9 * * 1-5", duration: "8h" }];
    expect(syncAllowed(office, at("2026-03-02T10:00:00Z")).allowed).toBe(true);
    expect(syncAllowed(office, at("2026-03-07T10:00:00Z"))).toEqual({ allowed: false, reason: "no allow window is open" });
    expect(syncAllowed(undefined).allowed).toBe(true);
    expect(() => checkWindows([{ kind: "deny", schedule: "every night", duration: "1h" }], "stacks/a.yaml:9")).toThrow(/stacks\/a\.yaml:9.*windows\[0\]/);
  });
});

describe("webhook payloads", () => {
  it("matches repository URLs however the sender spells them", () => {
    const forms = [
      "https://git.example.org/Team/Infra.git",
      "git@git.example.org:team/infra.git",
      "ssh://git@git.example.org/team/infra",
      "https://git.example.org/team/infra/",
    ];
    expect(new Set(forms.map(normalizeRepositoryUrl)).size).toBe(1);
  });

  it("reads GitHub, GitLab and generic pushes and ignores other bodies", () => {
    expect(readPush({ ref: "refs/heads/main", repository: { clone_url: "https://h/r.git", ssh_url: "git@h:r.git" } })).toEqual({
      repositoryUrls: ["https://h/r.git", "git@h:r.git"],
      ref: "refs/heads/main",
    });
    expect(readPush({ ref: "refs/tags/v1", project: { git_http_url: "https://gl/r.git" } })?.repositoryUrls).toEqual(["https://gl/r.git"]);
    expect(readPush({ repository: "file:///srv/r", ref: "refs/heads/main" })?.repositoryUrls).toEqual(["file:///srv/r"]);
    for (const body of [null, [], "text", 42, { zen: "ping" }, { repository: { clone_url: 5 } }]) expect(readPush(body)).toBeUndefined();
  });

  it("accepts only the right signature for each sender", () => {
    const body = Buffer.from('{"ref":"refs/heads/main"}');
    const hex = createHmac("sha256", "s3cret").update(body).digest("hex");
    expect(verifyWebhook({ "x-hub-signature-256": `sha256=${hex}` }, body, "s3cret")).toEqual({ ok: true, sender: "github" });
    expect(verifyWebhook({ "x-gitea-signature": hex }, body, "s3cret")).toEqual({ ok: true, sender: "gitea" });
    expect(verifyWebhook({ "x-forgejo-signature": hex }, body, "s3cret")).toEqual({ ok: true, sender: "forgejo" });
    expect(verifyWebhook({ "x-plumb-signature": `sha256=${hex}` }, body, "s3cret")).toEqual({ ok: true, sender: "generic" });
    expect(verifyWebhook({ "x-gitlab-token": "s3cret" }, body, "s3cret")).toEqual({ ok: true, sender: "gitlab" });
    expect(verifyWebhook({ "x-hub-signature-256": hex }, body, "s3cret").ok).toBe(false);
    expect(verifyWebhook({ "x-hub-signature-256": `sha256=${hex}` }, Buffer.from(`${body.toString()} `), "s3cret").ok).toBe(false);
    expect(verifyWebhook({ "x-gitlab-token": "s3cre" }, body, "s3cret").ok).toBe(false);
    expect(verifyWebhook({}, body, "s3cret")).toMatchObject({ ok: false, reason: expect.stringContaining("not signed") });
  });
});
