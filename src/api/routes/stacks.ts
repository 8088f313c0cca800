// Route group: stacks — the list with filters and facets, the environments
// matrix, one stack, its resources with claims, its plan preview, and the
// platform's composite documentation.

import { Type, type Static } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { PlumbError } from "../../errors.js";
import { compositesMarkdown, documentComposite } from "../../render/composite-docs.js";
import type { RenderedClaim } from "../../stack-model.js";
import { environmentMatrix } from "../environment-matrix.js";
import { assessPromotion, promotionFacts } from "../promotions.js";
import { planPreview, resourceList, stackList } from "../response-schemas.js";
import { platformWide } from "../authorization.js";
import { previewOfPlan } from "../plan-preview.js";
import type { RouteContext } from "../route-context.js";
import { errorBody, listQuery, stackName, stackSummary, type StackSummary } from "../schemas.js";
import { syncPolicySchema } from "../../stack-definition.js";
import { filterStacks, sortStacks, stackFacets } from "../stack-list.js";

export async function stackRoutes(app: FastifyInstance, { queries, store, authorizeStack, summary, everySummary }: RouteContext): Promise<void> {
  app.get<{ Querystring: Static<typeof listQuery> }>(
    "/api/v1/stacks",
    {
      schema: {
        summary: "List stacks with filters, sorting and paging",
        querystring: listQuery,
        response: {
          200: stackList,
        },
      },
    },
    async (request) => {
      const { limit = 50, offset = 0, sort, order, ...filters } = request.query;
      const all = await everySummary(request);
      const sorted = sortStacks(filterStacks(all, filters), sort, order);
      return {
        total: sorted.length,
        items: sorted.slice(offset, offset + limit),
        facets: stackFacets(all, filterStacks(all, { ...filters, state: undefined })),
        // The platform's problems name files and stacks of every project.
        problems: platformWide(request.principal) ? queries.problems().map((problem) => problem.describe()) : [],
      };
    },
  );

  const matrixQuery = Type.Object({ q: Type.Optional(Type.String({ maxLength: 200, description: "Substring of the application's name, case-insensitive." })) });
  app.get<{ Querystring: Static<typeof matrixQuery> }>(
    "/api/v1/environments",
    {
      schema: {
        summary: "Applications × environments: the stack, revision and state in each cell (the app label, else the stack name without -<environment>)",
        querystring: matrixQuery,
      },
    },
    async (request) => {
      const summaries = await everySummary(request);
      const promotions = queries.promotions();
      const order = promotions.policy?.policy.spec.environments ?? [];
      const matrix = environmentMatrix(summaries, request.query.q, order);
      const byName = new Map(summaries.map((stack) => [stack.name, stack]));
      const facts = promotionFacts(queries);
      // Only neighbours that run different revisions need their runs read.
      const checks = matrix.applications.flatMap((application) =>
        order.slice(1).flatMap((environment, index) => {
          const from = order[index] as string;
          const source = application.cells[from];
          const target = application.cells[environment];
          if (source === undefined || target === undefined || source.revision === null || source.revision === target.revision) return [];
          return [{ source: byName.get(source.stack) as StackSummary, target: byName.get(target.stack) as StackSummary, cell: target, from }];
        }),
      );
      await Promise.all(
        checks.map(async ({ source, target, cell, from }) => {
          const assessed = await assessPromotion(source, target, facts);
          if (!assessed.pending || assessed.source.revision === null) return;
          cell.promotion = {
            from,
            revision: assessed.source.revision,
            allowed: assessed.verdict.allowed,
            ...(assessed.verdict.allowed ? {} : { rule: assessed.verdict.rule, reason: assessed.verdict.reason }),
          };
        }),
      );
      return matrix;
    },
  );

  app.get<{ Params: Static<typeof stackName> }>(
    "/api/v1/stacks/:stack",
    { schema: { summary: "One stack with its conditions", params: stackName, response: { 200: stackSummary, 404: errorBody } } },
    async (request) => {
      await authorizeStack(request, request.params.stack);
      return summary(request.params.stack, await store.getStackStatus(request.params.stack));
    },
  );

  app.get<{ Params: Static<typeof stackName> }>(
    "/api/v1/stacks/:stack/resources",
    { schema: { summary: "Resources with status, health and drift", params: stackName, response: { 200: resourceList, 404: errorBody } } },
    async (request) => {
      const name = request.params.stack;
      await authorizeStack(request, name);
      const [records, status, tree] = await Promise.all([store.listResources(name), queries.status(name), queries.resourceTree(name)]);
      const items = records.map((record) => ({
        address: record.address,
        apiVersion: record.apiVersion,
        kind: record.kind,
        name: record.name,
        provider: record.provider,
        status: record.status,
        health: record.health,
        // Drift that the last check healed is history, not a live difference: the two are told apart.
        drift: status.drift?.healed === false ? (status.drift.resources[record.address] ?? null) : null,
        healed: status.drift?.healed === true ? (status.drift.resources[record.address] ?? null) : null,
        spec: record.appliedSpec,
        dependsOn: record.dependsOn,
        composite: tree.compositeOf.get(record.address) ?? null,
        ...(tree.waveOf.has(record.address) ? { wave: tree.waveOf.get(record.address) } : {}),
        updatedAt: record.updatedAt,
      }));
      return { items, claims: claimReadiness(tree.claims, items) };
    },
  );

  const manifestQuery = Type.Object({ address: Type.String({ minLength: 1, maxLength: 600, description: "The resource's address: apiVersion/kind/name." }) });
  app.get<{ Params: Static<typeof stackName>; Querystring: Static<typeof manifestQuery> }>(
    "/api/v1/stacks/:stack/manifest",
    {
      schema: {
        summary:
          "One resource whole: the spec applied last (secrets as references) and the live object read now (secret values hidden; null when it does not exist)",
        params: stackName,
        querystring: manifestQuery,
        response: { 200: Type.Object({ address: Type.String(), desired: Type.Unknown(), live: Type.Unknown() }), 404: errorBody },
      },
    },
    async (request) => {
      const { stack } = request.params;
      const { address } = request.query;
      await authorizeStack(request, stack);
      const manifest = await queries.manifest(stack, address);
      if (manifest === undefined)
        throw new PlumbError("PLUMB_NOT_FOUND", `stack ${stack} has no applied resource ${address}`, {
          hint: `GET /api/v1/stacks/${stack}/resources lists the addresses it has`,
        });
      return { address, ...manifest };
    },
  );

  app.get<{ Params: Static<typeof stackName> }>(
    "/api/v1/stacks/:stack/sync-policy",
    {
      schema: {
        summary: "The sync policy the stack runs with: auto, prune, selfHeal, intervals, retry, windows (as written; what is left out takes its default)",
        params: stackName,
        response: { 200: Type.Object({ sync: syncPolicySchema }), 404: errorBody },
      },
    },
    async (request) => {
      await authorizeStack(request, request.params.stack);
      return { sync: queries.syncPolicy(request.params.stack) };
    },
  );

  app.get("/api/v1/composites", { schema: { summary: "The platform's composite kinds, documented from their schemas" } }, async () => ({
    items: queries.compositeKinds().map(documentComposite),
  }));

  app.get("/api/v1/composites.md", { schema: { summary: "The same documentation as Markdown (what plumb docs prints)" } }, async (_request, reply) => {
    return reply.type("text/markdown; charset=utf-8").send(compositesMarkdown(queries.compositeKinds()));
  });

  app.get<{ Params: Static<typeof stackName> }>(
    "/api/v1/stacks/:stack/plan",
    {
      schema: {
        summary: "Plan preview: desired (last applied render) against live state, field by field",
        params: stackName,
        response: { 200: planPreview, 404: errorBody },
      },
    },
    async (request) => {
      const name = request.params.stack;
      await authorizeStack(request, name);
      const preview = await queries.previewPlan(name);
      if (preview === undefined)
        throw new PlumbError("PLUMB_NOT_FOUND", `stack ${name} has not been applied yet`, {
          hint: `wait for its first sync, or POST /api/v1/stacks/${name}/sync`,
        });
      return previewOfPlan(preview.plan, preview.revision);
    },
  );
}

interface TreeItem {
  address: string;
  status: string;
  health: string;
  drift: unknown;
}

/**
 * A claim is Ready when every resource it composed (through nested claims too)
 * is recorded, Synced, Healthy and without drift, as Crossplane reports a
 * composite ready when its composed resources are.
 */
export function claimReadiness(claims: readonly RenderedClaim[], items: readonly TreeItem[]): (RenderedClaim & { ready: boolean; reason: string })[] {
  const byAddress = new Map(items.map((item) => [item.address, item]));
  const claimByAddress = new Map(claims.map((claim) => [claim.address, claim]));
  const notReady = (claim: RenderedClaim): string | undefined => {
    for (const child of claim.children) {
      const nested = claimByAddress.get(child);
      if (nested !== undefined) {
        const reason = notReady(nested);
        if (reason !== undefined) return reason;
        continue;
      }
      const item = byAddress.get(child);
      if (item === undefined) return `${child} is not applied yet`;
      if (item.status !== "Synced") return `${child} is ${item.status}`;
      if (item.health !== "Healthy") return `${child} is ${item.health}`;
      if (item.drift !== null) return `${child} has drifted`;
    }
    return undefined;
  };
  return claims.map((claim) => {
    const reason = notReady(claim);
    return { ...claim, ready: reason === undefined, reason: reason ?? `all ${claim.children.length} composed resources are ready` };
  });
}
