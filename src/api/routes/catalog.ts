// GET /api/v1/catalog/backstage: the stacks the caller may see, their projects
// and the platform's composite kinds as Backstage catalog entities (YAML for a
// Backstage location, or JSON).

import { Type, type Static } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { backstageEntities, backstageYaml } from "../backstage-catalog.js";
import type { RouteContext } from "../route-context.js";

const catalogQuery = Type.Object({
  format: Type.Optional(Type.Union([Type.Literal("yaml"), Type.Literal("json")], { default: "yaml" })),
  dashboardUrl: Type.Optional(
    Type.String({
      pattern: "^https?://[^\\s]+$",
      maxLength: 2000,
      description: "The dashboard's address for the entities' links (default: the address this request came to).",
    }),
  ),
  owner: Type.Optional(
    Type.String({
      pattern: "^(?:[A-Za-z]+:)?(?:[A-Za-z0-9]+(?:[-_.][A-Za-z0-9]+)*/)?[A-Za-z0-9]+(?:[-_.][A-Za-z0-9]+)*$",
      maxLength: 200,
      description: "The owner of the Systems (projects) and APIs (composite kinds), as a Backstage entity reference (default group:default/platform).",
    }),
  ),
});

export async function catalogRoutes(app: FastifyInstance, { queries, visibleStacks }: RouteContext): Promise<void> {
  app.get<{ Querystring: Static<typeof catalogQuery> }>(
    "/api/v1/catalog/backstage",
    { schema: { summary: "Backstage catalog entities: a Component per stack, a System per project, an API per composite kind", querystring: catalogQuery } },
    async (request, reply) => {
      const visible = new Set(visibleStacks(request));
      const entities = backstageEntities(
        queries.catalogStacks((stack) => visible.has(stack)),
        queries.compositeKinds(),
        { dashboardUrl: request.query.dashboardUrl ?? `${request.protocol}://${request.host}`, platformOwner: request.query.owner ?? "group:default/platform" },
      );
      if (request.query.format === "json") return { items: entities };
      return reply.type("application/yaml; charset=utf-8").send(backstageYaml(entities));
    },
  );
}
