// What can be promoted where: for an application's stack in one environment
// and its stack in the next, the revision the source runs healthy (the commit
// that last changed its files), whether the target runs it already, and
// the PromotionPolicy's verdict. The promotions route and the environments
// matrix both ask here, so the CLI and the dashboard never disagree.

import { judgePromotion, previousEnvironment, runningSince, type PlacedPromotionPolicy, type PromotionVerdict, type RunFacts } from "../policy/promotion.js";
import { PlumbError } from "../errors.js";
import { applicationOf } from "./environment-matrix.js";
import type { StackSummary } from "./schemas.js";
import type { StackQueries } from "../agent/queries.js";

export interface PromotionFacts {
  policy: PlacedPromotionPolicy | undefined;
  /** A PromotionPolicy is in the repository but cannot be read: every promotion is refused until it can. */
  policyBroken: boolean;
  /** The stack's runs, newest first. */
  runsOf(stack: string): Promise<RunFacts[]>;
  /** The revision a Pin holds the stack at, if one does. */
  pinOf(stack: string): string | undefined;
  /** The commit that last changed the stack's source files at `revision`. */
  contentRevision(stack: string, revision: string): Promise<string>;
  now: Date;
}

export interface PromotionAssessment {
  application: string;
  source: { stack: string; environment: string; revision: string | null; healthySince: string | null };
  target: { stack: string; environment: string; revision: string | null; pinnedRevision: string | null };
  /** The source's revision is not what the target runs (or is pinned to). */
  pending: boolean;
  verdict: PromotionVerdict;
}

/** The facts as the agent knows them now. */
export function promotionFacts(queries: StackQueries): PromotionFacts {
  const promotions = queries.promotions();
  return {
    policy: promotions.policy,
    policyBroken: promotions.policyBroken,
    runsOf: (stack) => queries.store.listRuns(stack, 100),
    pinOf: (stack) => queries.platformStack(stack)?.pin?.revision,
    contentRevision: (stack, revision) => queries.contentRevision(stack, revision),
    now: new Date(),
  };
}

/** Judges promoting `source`'s running revision to `target`. */
export async function assessPromotion(source: StackSummary, target: StackSummary, facts: PromotionFacts): Promise<PromotionAssessment> {
  const sourceEnvironment = source.environment ?? "";
  const targetEnvironment = target.environment ?? "";
  const running = runningSince(await facts.runsOf(source.name));
  const ready = source.conditions.find((condition) => condition.type === "Ready");
  const isReady = ready?.status === "True";
  const since = [running, isReady ? ready.lastTransitionTime : undefined].filter((time): time is string => typeof time === "string");
  const healthySince = since.length === 0 ? null : since.reduce((latest, time) => (time > latest ? time : latest));
  // Compared by the commits that last changed each side's files, so a commit elsewhere in the repository is not "pending".
  const revision = source.lastAppliedRevision === null ? null : await facts.contentRevision(source.name, source.lastAppliedRevision);
  const pinnedRevision = facts.pinOf(target.name) ?? null;
  const targetRevision = pinnedRevision ?? target.lastAppliedRevision;
  const targetContent = targetRevision === null ? null : await facts.contentRevision(target.name, targetRevision);
  const verdict: PromotionVerdict = facts.policyBroken
    ? {
        allowed: false,
        rule: "promotion-policy",
        where: null,
        reason: "the platform's PromotionPolicy has problems; no promotion passes until it reads cleanly",
      }
    : judgePromotion(
        facts.policy,
        { stack: source.name, environment: sourceEnvironment, suspended: source.suspended, revision, ready: isReady, healthySince },
        { stack: target.name, environment: targetEnvironment },
        facts.now,
      );
  return {
    application: applicationOf(source),
    source: { stack: source.name, environment: sourceEnvironment, revision, healthySince },
    target: { stack: target.name, environment: targetEnvironment, revision: target.lastAppliedRevision, pinnedRevision },
    pending: revision !== null && revision !== targetContent,
    verdict,
  };
}

/**
 * The source and target stack of each application that `name` selects — a
 * StackSet (all its applications), an application, or one of its stacks —
 * between `from` (default: the environment before `to` in the policy) and `to`.
 */
export function promotionPairs(
  summaries: readonly StackSummary[],
  name: string,
  to: string,
  from: string | undefined,
  policy: PlacedPromotionPolicy | undefined,
): { from: string; pairs: { application: string; source: StackSummary | undefined; target: StackSummary | undefined }[] } {
  const source = from ?? previousEnvironment(policy, to);
  if (source === undefined)
    throw new PlumbError("PLUMB_USAGE", `no environment to promote to ${to} from`, {
      hint:
        policy === undefined
          ? "give --from, or list the environments in order in the platform's PromotionPolicy (spec.environments)"
          : `give --from: ${to} is ${policy.policy.spec.environments?.includes(to) === true ? "first" : "not listed"} in ${policy.file}'s environments`,
    });
  const inSet = summaries.filter((stack) => stack.stackSet === name);
  const applications = new Set(
    inSet.length > 0 ? inSet.map(applicationOf) : summaries.filter((stack) => stack.name === name || applicationOf(stack) === name).map(applicationOf),
  );
  if (applications.size === 0)
    throw new PlumbError("PLUMB_NOT_FOUND", `no StackSet, application or stack named ${name}`, {
      hint: "name a StackSet, an application (its app label, or a stack name without -<environment>) or a stack: see plumb status",
    });
  const pool = inSet.length > 0 ? inSet : summaries;
  const find = (application: string, environment: string) => pool.find((stack) => applicationOf(stack) === application && stack.environment === environment);
  return {
    from: source,
    pairs: [...applications].sort().map((application) => ({ application, source: find(application, source), target: find(application, to) })),
  };
}
