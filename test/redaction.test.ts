// The redaction layer masks a secret in every spelling an output channel can give it.

import { describe, expect, it } from "vitest";
import { Redactor, redactedText } from "../src/secrets/redaction.js";
import { withoutSecretValues } from "../src/secrets/references.js";

const awkward = ['pa"ss\\word-1', "line\nbreak\ttab-secret", "ünïcødé-pässwörd-✓", "regex.*+?^${}()|[]-meta", "sp ace&amp=x/y+z%41"];

describe("redaction", () => {
  for (const secret of awkward) {
    it(`masks ${JSON.stringify(secret)} raw, JSON-escaped, double-escaped, URL-encoded, HTML-escaped and in base64`, () => {
      const redactor = new Redactor();
      redactor.remember(secret);
      const json = JSON.stringify({ message: `failed: ${secret}` });
      const spellings = [
        `raw ${secret} end`,
        json,
        JSON.stringify({ body: json }),
        JSON.stringify({ message: secret }).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`),
        `https://host/?p=${encodeURIComponent(secret)}&q=1`,
        `form=${encodeURIComponent(secret).replaceAll("%20", "+")}`,
        `<p>${secret.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;")}</p>`,
      ];
      for (let prefix = 0; prefix < 3; prefix++) spellings.push(Buffer.from(`${"x".repeat(prefix)}user:${secret}:tail`).toString("base64"));
      spellings.push(Buffer.from(`ab${secret}`).toString("base64url"));
      for (const text of spellings) {
        const masked = redactor.redact(text);
        expect(masked, text).toContain(redactedText);
        expect(masked).not.toContain(secret);
      }
      // What stays readable stays readable.
      expect(redactor.redact('{"message":"all fine"}')).toBe('{"message":"all fine"}');
    });
  }

  it("leaves short values alone instead of garbling every output", () => {
    const redactor = new Redactor();
    redactor.remember("ab");
    expect(redactor.redact("abc ab")).toBe("abc ab");
  });
});

describe("redaction of cut-off values", () => {
  it("masks a secret a server truncated in its message (PostgreSQL cuts names at 63 bytes), raw and JSON-escaped", () => {
    const redactor = new Redactor();
    const secret = `CANARY0123456789abcdef-user"q\\b'$1.*+?(ü✓)%20&-and-much-more-after-the-cut`;
    redactor.remember(secret);
    const cut = Buffer.from(secret)
      .subarray(0, 63)
      .toString("utf8")
      .replace(/\uFFFD$/, "");
    for (const text of [`failed for user "${cut}"`, JSON.stringify({ message: `failed for user "${cut}"` })]) {
      const masked = redactor.redact(text);
      expect(masked).toContain(redactedText);
      expect(masked).not.toContain("CANARY0123456789");
    }
    // Twelve characters is the shortest start that counts; fewer are ordinary text.
    expect(redactor.redact("CANARY01234 is a word")).toBe("CANARY01234 is a word");
  });
});

describe("a live object shown to a person", () => {
  it("shows the reference where Git holds a secret reference, and hides every value of a Kubernetes Secret", () => {
    const desired = { login: true, password: { secretRef: { name: "app", key: "password" } }, nested: [{ token: { secretRef: { name: "t", key: "k" } } }] };
    const live = {
      login: true,
      password: { secretRef: { name: "app", key: "password" }, digest: "hmac-sha256:ab" },
      nested: [{ token: "plain-token-value" }],
      extra: 1,
    };
    expect(withoutSecretValues(live, desired, "postgres.plumb.dev/v1", "Role")).toEqual({
      login: true,
      password: { secretRef: { name: "app", key: "password" } },
      nested: [{ token: { secretRef: { name: "t", key: "k" } } }],
      extra: 1,
    });
    const secret = withoutSecretValues(
      {
        metadata: { name: "db", annotations: { "kubectl.kubernetes.io/last-applied-configuration": '{"data":{"password":"c2VjcmV0"}}', team: "a" } },
        data: { password: "c2VjcmV0", added: "b3RoZXI=" },
        type: "Opaque",
      },
      { metadata: { name: "db" }, data: { password: "c2VjcmV0" } },
      "v1",
      "Secret",
    );
    expect(secret).toEqual({
      metadata: { name: "db", annotations: { "kubectl.kubernetes.io/last-applied-configuration": redactedText, team: "a" } },
      data: { password: redactedText, added: redactedText },
      type: "Opaque",
    });
    // A ConfigMap's data is not secret.
    expect(withoutSecretValues({ data: { a: "b" } }, { data: { a: "b" } }, "v1", "ConfigMap")).toEqual({ data: { a: "b" } });
  });
});
