// Route group: promotions — what promoting a StackSet, an application or a
// stack from one environment to the next would pin, and whether the
// platform's PromotionPolicy lets it. `plumb promote` asks here before it
// writes a Pin; the answer changes nothing.

import { Type, type Static } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { assessPromotion, promotionFacts, promotionPairs, type PromotionAssessment } from "../promotions.js";
import type { RouteContext } from "../route-context.js";
import { errorBody } from "../schemas.js";

const promotionQuery = Type.Object({
  target: Type.String({ minLength: 1, maxLength: 200, description: "A StackSet, an application or a stack." }),
  to: Type.String({ minLength: 1, maxLength: 63, description: "The environment to promote to." }),
  from: Type.Optional(Type.String({ minLength: 1, maxLength: 63, description: "Default: the environment before `to` in the PromotionPolicy." })),
});

const nullableString = Type.Union([Type.String(), Type.Null()]);
const side = { stack: Type.String(), environment: Type.String(), revision: nullableString };

export const promotionAnswer = Type.Object({
  from: Type.String(),
  to: Type.String(),
  items: Type.Array(
    Type.Object({
      application: Type.String(),
      source: Type.Union([Type.Object({ ...side, healthySince: nullableString }), Type.Null()]),
      target: Type.Union([Type.Object({ ...side, pinnedRevision: nullableString }), Type.Null()]),
      pending: Type.Boolean({ description: "The source runs a revision the target does not." }),
      verdict: Type.Object({
        allowed: Type.Boolean(),
        rule: Type.Optional(Type.String({ description: "The rule that refuses: a PromotionPolicy rule's name, or healthy-source, missing-environment, …" })),
        where: Type.Optional(nullableString),
        reason: Type.Optional(Type.String()),
      }),
    }),
  ),
});
export type PromotionAnswer = Static<typeof promotionAnswer>;

export async function promotionRoutes(app: FastifyInstance, { queries, everySummary }: RouteContext): Promise<void> {
  app.get<{ Querystring: Static<typeof promotionQuery> }>(
    "/api/v1/promotions",
    {
      schema: {
        summary: "What promoting a StackSet, an application or a stack to an environment would pin, and the PromotionPolicy's verdict for each",
        querystring: promotionQuery,
        response: { 200: promotionAnswer, 400: errorBody, 404: errorBody },
      },
    },
    async (request): Promise<PromotionAnswer> => {
      const { target, to, from } = request.query;
      const promotions = queries.promotions();
      const summaries = await everySummary(request);
      const selected = promotionPairs(summaries, target, to, from, promotions.policy);
      const facts = promotionFacts(queries);
      const items = await Promise.all(
        selected.pairs.map(async ({ application, source, target: destination }) => {
          if (source === undefined || destination === undefined) {
            const missing = source === undefined ? selected.from : to;
            return {
              application,
              source: null,
              target: null,
              pending: false,
              verdict: { allowed: false, rule: "missing-environment", where: null, reason: `${application} has no stack in ${missing}` },
            };
          }
          const assessed: PromotionAssessment = await assessPromotion(source, destination, facts);
          return assessed;
        }),
      );
      return { from: selected.from, to, items };
    },
  );
}
