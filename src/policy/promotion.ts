// Promotion between environments: the platform's PromotionPolicy (the order of
// its environments and the rules a promotion must pass), the Pin documents a
// promotion writes (a stack held at one revision), and the pure judgement of
// whether a promotion may go ahead — with the rule that refuses it named.

import { Type, type Static } from "@sinclair/typebox";
import { syncAllowed, parseDuration } from "../schedule.js";
import { durationSchema, stackNamePattern, syncWindowsSchema } from "../stack-definition.js";

export const promotionPolicyKind = "PromotionPolicy";
export const pinKind = "Pin";

const environmentName = Type.String({ minLength: 1, maxLength: 63 });

const promotionRuleSchema = Type.Object(
  {
    name: Type.String({ pattern: stackNamePattern, description: "Named in every refusal." }),
    description: Type.Optional(Type.String()),
    to: Type.Union([environmentName, Type.Array(environmentName, { minItems: 1 })], { description: "The target environment(s) the rule guards." }),
    from: Type.Optional(Type.Array(environmentName, { minItems: 1, description: "The only environments a promotion to `to` may come from." })),
    readyFor: Type.Optional({
      ...durationSchema,
      description: "How long the source must have run the revision, Ready, before it may be promoted (e.g. 30m).",
    }),
    windows: Type.Optional({
      ...syncWindowsSchema,
      description: "When promotions to `to` may land: deny windows refuse, allow windows (if any) must be open. Cron in UTC.",
    }),
  },
  { additionalProperties: false },
);

export const promotionPolicySchema = Type.Object(
  {
    apiVersion: Type.Literal("plumb.dev/v1"),
    kind: Type.Literal(promotionPolicyKind),
    metadata: Type.Object({ name: Type.String({ minLength: 1 }) }, { additionalProperties: true }),
    spec: Type.Object(
      {
        environments: Type.Optional(
          Type.Array(environmentName, {
            minItems: 1,
            uniqueItems: true,
            description: "The environments in promotion order (dev, staging, prod): `plumb promote` without --from takes the one before --to.",
          }),
        ),
        rules: Type.Optional(Type.Array(promotionRuleSchema)),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type PromotionPolicy = Static<typeof promotionPolicySchema>;
export type PromotionRule = Static<typeof promotionRuleSchema>;

export const pinSchema = Type.Object(
  {
    apiVersion: Type.Literal("plumb.dev/v1"),
    kind: Type.Literal(pinKind),
    metadata: Type.Object(
      {
        name: Type.String({ pattern: stackNamePattern, description: "The stack that is pinned." }),
        annotations: Type.Optional(Type.Record(Type.String(), Type.String())),
      },
      { additionalProperties: false },
    ),
    spec: Type.Object(
      {
        revision: Type.String({ pattern: "^[0-9a-f]{40}([0-9a-f]{24})?$", description: "The full commit the stack's source is read at." }),
        promotedFrom: Type.Optional(Type.String({ pattern: stackNamePattern, description: "The stack that ran this revision healthy first." })),
        promotedAt: Type.Optional(Type.String({ pattern: "^[0-9]{4}-[0-9]{2}-[0-9]{2}T", description: "When, as an ISO 8601 time." })),
        promotedBy: Type.Optional(Type.String({ maxLength: 200 })),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type PinDocument = Static<typeof pinSchema>;

/** A PromotionPolicy as read, with where it is, so refusals can say which rule of which file. */
export interface PlacedPromotionPolicy {
  policy: PromotionPolicy;
  file: string;
  /** Each rule's line, by rule index. */
  ruleLines: number[];
}

/** What the judgement needs to know about the stack a revision is promoted from. */
export interface PromotionSource {
  stack: string;
  environment: string;
  suspended: boolean;
  /** The revision to promote: the commit that last changed the source's files; null when nothing is applied. */
  revision: string | null;
  ready: boolean;
  /** Since when the source has run that content and been Ready. */
  healthySince: string | null;
}

export interface PromotionTarget {
  stack: string;
  environment: string;
}

export type PromotionVerdict = { allowed: true } | { allowed: false; rule: string; where: string | null; reason: string };

/** The rules that guard promotions to `environment`. */
function rulesFor(placed: PlacedPromotionPolicy, environment: string): { rule: PromotionRule; where: string }[] {
  return (placed.policy.spec.rules ?? []).flatMap((rule, index) => {
    const targets = typeof rule.to === "string" ? [rule.to] : rule.to;
    return targets.includes(environment) || targets.includes("*") ? [{ rule, where: `${placed.file}:${placed.ruleLines[index] ?? 1}` }] : [];
  });
}

const minutes = (milliseconds: number) => `${Math.floor(milliseconds / 60_000)}m${Math.floor((milliseconds % 60_000) / 1000)}s`;

/**
 * Whether `source`'s revision may be promoted to `target` at `now`. The
 * built-in checks come first (a revision that runs Ready, two different
 * environments), then every rule for the target environment in file order;
 * the first that refuses is the answer.
 */
export function judgePromotion(
  placed: PlacedPromotionPolicy | undefined,
  source: PromotionSource,
  target: PromotionTarget,
  now: Date = new Date(),
): PromotionVerdict {
  const refuse = (rule: string, where: string | null, reason: string): PromotionVerdict => ({ allowed: false, rule, where, reason });
  if (source.environment === target.environment)
    return refuse("different-environments", null, `${source.stack} and ${target.stack} are both in ${source.environment}`);
  if (source.revision === null) return refuse("healthy-source", null, `${source.stack} has no applied revision to promote`);
  if (!source.ready) return refuse("healthy-source", null, `${source.stack} is not Ready, so its revision is not running healthy`);
  if (source.suspended) return refuse("healthy-source", null, `${source.stack} is suspended: what it runs may not be what its source says`);
  if (placed === undefined) return { allowed: true };
  for (const { rule, where } of rulesFor(placed, target.environment)) {
    if (rule.from !== undefined && !rule.from.includes(source.environment))
      return refuse(rule.name, where, `${target.environment} may be promoted to only from ${rule.from.join(" or ")}, not from ${source.environment}`);
    if (rule.readyFor !== undefined) {
      const needed = parseDuration(rule.readyFor, `${where}: readyFor`, Number.MAX_SAFE_INTEGER);
      const since = source.healthySince === null ? Number.NaN : Date.parse(source.healthySince);
      const healthyFor = Number.isNaN(since) ? 0 : now.getTime() - since;
      if (healthyFor < needed)
        return refuse(
          rule.name,
          where,
          `${source.stack} must have run ${source.revision.slice(0, 12)} Ready for ${rule.readyFor}; it has for ${minutes(Math.max(0, healthyFor))}`,
        );
    }
    if (rule.windows !== undefined) {
      const open = syncAllowed(rule.windows, now);
      if (!open.allowed) return refuse(rule.name, where, `promotions to ${target.environment} are closed: ${open.reason}`);
    }
  }
  return { allowed: true };
}

/** The environment before `environment` in the policy's order, for a promotion without --from. */
export function previousEnvironment(placed: PlacedPromotionPolicy | undefined, environment: string): string | undefined {
  const order = placed?.policy.spec.environments ?? [];
  const index = order.indexOf(environment);
  return index > 0 ? order[index - 1] : undefined;
}

/** A run as the judgement reads it (newest first). */
export interface RunFacts {
  digest: string;
  result: string;
  finishedAt: string | null;
}

/**
 * Since when a stack has run its current content: walking its runs from the
 * newest, the unbroken series of succeeded runs with the digest of the newest
 * succeeded one, and when the oldest of them finished (a later commit that
 * changed nothing here makes no run). Null when no run succeeded.
 */
export function runningSince(runs: readonly RunFacts[]): string | null {
  const latest = runs.findIndex((run) => run.result === "succeeded");
  if (latest === -1) return null;
  const digest = (runs[latest] as RunFacts).digest;
  let oldest = runs[latest] as RunFacts;
  for (const run of runs.slice(latest + 1)) {
    if (run.result !== "succeeded" || run.digest !== digest) break;
    oldest = run;
  }
  return oldest.finishedAt;
}
