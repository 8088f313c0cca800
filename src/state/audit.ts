// The audit trail's hash chain: each event's hash covers its own fields and
// the hash of the event before it, and a head record holds the last hash and
// count, so an edited, removed, reordered or truncated event is found.

import { createHash } from "node:crypto";
import type { JsonObject, JsonValue } from "../sdk/resource.js";
import type { AuditKind } from "./audit-kinds.js";

export { auditKinds, type AuditKind } from "./audit-kinds.js";

export interface AuditInput {
  kind: AuditKind;
  /** A token's name, `agent`, or `cli:<user>`. */
  actor: string;
  stack: string;
  resource: string | null;
  commit: string | null;
  author: string | null;
  commitMessage: string | null;
  /** What changed, field by field, with secret values replaced by `[redacted]`. */
  summary: JsonObject;
}

export interface AuditEvent extends AuditInput {
  /** 1, 2, 3, … with no gaps. */
  sequence: number;
  at: string;
  previousHash: string;
  hash: string;
}

export const genesisHash = "0".repeat(64);

/** JSON with object keys sorted, so the same event always hashes the same. */
export function canonicalJson(value: JsonValue | undefined): string {
  if (value === undefined) return "null";
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  return `{${Object.keys(value)
    .sort()
    .filter((key) => value[key] !== undefined)
    .map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`)
    .join(",")}}`;
}

export function auditHash(event: Omit<AuditEvent, "hash">): string {
  const { sequence, at, kind, actor, stack, resource, commit, author, commitMessage, summary, previousHash } = event;
  return createHash("sha256")
    .update(previousHash)
    .update("\n")
    .update(canonicalJson({ sequence, at, kind, actor, stack, resource, commit, author, commitMessage, summary }))
    .digest("hex");
}

export interface AuditHead {
  count: number;
  hash: string;
}

export type AuditVerdict = { ok: true; count: number; head: string } | { ok: false; count: number; sequence: number; problem: string };

/** A signed checkpoint as the chain check reads it: event #sequence had hash `head` when it was signed. */
export interface CheckpointMark {
  sequence: number;
  head: string;
  at: string;
  /** Where it was read from, for messages. */
  file: string;
}

/**
 * Recomputes the chain in order; names the first event that does not fit, or
 * the first checkpoint it no longer matches (`checkpoints`: signatures checked
 * already). A trail shorter than the newest checkpoint lost its end.
 */
export async function verifyAuditChain(
  events: AsyncIterable<AuditEvent> | Iterable<AuditEvent>,
  head: AuditHead | undefined,
  checkpoints: readonly CheckpointMark[] = [],
): Promise<AuditVerdict> {
  let expected = 1;
  let previous = genesisHash;
  const marks = new Map<number, CheckpointMark>();
  for (const mark of checkpoints) if (mark.sequence > 0) marks.set(mark.sequence, mark);
  for await (const event of events) {
    if (event.sequence !== expected) {
      return event.sequence > expected
        ? { ok: false, count: expected - 1, sequence: expected, problem: `event #${expected} is missing (the next one is #${event.sequence}): removed` }
        : {
            ok: false,
            count: expected - 1,
            sequence: event.sequence,
            problem: `event #${event.sequence} appears again after #${expected - 1}: duplicated or reordered`,
          };
    }
    if (event.previousHash !== previous) {
      return {
        ok: false,
        count: expected - 1,
        sequence: event.sequence,
        problem: `event #${event.sequence} does not follow #${expected - 1} (its predecessor hash differs): reordered or an earlier event was replaced`,
      };
    }
    const { hash, ...rest } = event;
    if (auditHash(rest) !== hash) {
      return {
        ok: false,
        count: expected - 1,
        sequence: event.sequence,
        problem: `event #${event.sequence} (${event.kind}, ${event.stack}${event.resource === null ? "" : ` ${event.resource}`}, ${event.at}) was edited: its content no longer matches its hash`,
      };
    }
    const mark = marks.get(event.sequence);
    if (mark !== undefined && mark.head !== hash) {
      const later = checkpoints.filter((other) => other.sequence > event.sequence).length;
      return {
        ok: false,
        count: expected - 1,
        sequence: event.sequence,
        problem: `event #${event.sequence} is not the one checkpoint ${mark.file} signed at ${mark.at}${later > 0 ? ` (nor do ${later} later checkpoint(s) match)` : ""}: the chain was rewritten from here or earlier`,
      };
    }
    previous = hash;
    expected++;
  }
  const count = expected - 1;
  const newest = checkpoints.reduce<CheckpointMark | undefined>(
    (latest, mark) => (latest === undefined || mark.sequence > latest.sequence ? mark : latest),
    undefined,
  );
  if (newest !== undefined && newest.sequence > count)
    return {
      ok: false,
      count,
      sequence: count + 1,
      problem: `checkpoint ${newest.file} signed ${newest.sequence} event(s) at ${newest.at}, but the trail holds ${count}: ${count === 0 ? "every event was removed, or the store replaced" : `#${count + 1} … #${newest.sequence} were removed`}`,
    };

  if (head !== undefined && (head.count !== count || head.hash !== previous)) {
    return head.count > count
      ? {
          ok: false,
          count,
          sequence: count + 1,
          problem: `the trail ends at #${count} but ${head.count} events were written: #${count + 1} onwards were removed`,
        }
      : { ok: false, count, sequence: count, problem: `the trail's last event #${count} is not the one last written (head says #${head.count})` };
  }
  return { ok: true, count, head: previous };
}

const secretKey = /pass(word)?|secret|token|private|credential/i;

/** Field values under secret-looking names become `[redacted]`; digests and references stay. */
export function redactSecrets(value: JsonValue | undefined, key = ""): JsonValue {
  if (value === undefined) return null;
  if (secretKey.test(key) && (typeof value === "string" || typeof value === "number")) return "[redacted]";
  if (Array.isArray(value)) return value.map((item) => redactSecrets(item, key));
  if (value !== null && typeof value === "object") {
    const result: JsonObject = {};
    for (const [name, item] of Object.entries(value)) if (item !== undefined) result[name] = redactSecrets(item, secretKey.test(key) ? key : name);
    return result;
  }
  return value;
}
