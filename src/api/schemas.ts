// The request and response schemas more than one route group shares; the
// OpenAPI document and the validation both come from them.

import { Type, type Static } from "@sinclair/typebox";
import { conditionFilters, sortKeys, stackStates } from "./stack-list.js";

export const stackName = Type.Object({ stack: Type.String({ pattern: "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$" }) });
export const errorBody = Type.Object({ code: Type.String(), message: Type.String(), hint: Type.Optional(Type.String()) });
export const condition = Type.Object({
  type: Type.String(),
  status: Type.String(),
  reason: Type.String(),
  message: Type.String(),
  lastTransitionTime: Type.String(),
});
export const stackSummary = Type.Object({
  name: Type.String(),
  project: Type.String({ description: "The project the stack belongs to (default when its Stack names none)." }),
  labels: Type.Record(Type.String(), Type.String()),
  environment: Type.Union([Type.String(), Type.Null()]),
  suspended: Type.Boolean(),
  conditions: Type.Array(condition),
  lastAppliedRevision: Type.Union([Type.String(), Type.Null()]),
  lastAttemptedRevision: Type.Union([Type.String(), Type.Null()]),
  drift: Type.Union([
    Type.Object({ checkedAt: Type.String(), resources: Type.Record(Type.String(), Type.Array(Type.String())), healed: Type.Boolean() }),
    Type.Null(),
  ]),
  state: Type.Union(
    stackStates.map((state) => Type.Literal(state)),
    { description: "One word for the stack: the most pressing of its conditions." },
  ),
  updatedAt: Type.Union([Type.String(), Type.Null()], { description: "When the agent last wrote this stack's status; null before its first look." }),
  source: Type.Object({ file: Type.String(), repo: Type.Optional(Type.String()), path: Type.Optional(Type.String()) }),
  stackSet: Type.Union([Type.String(), Type.Null()], { description: "The StackSet that makes this stack; null for a stack written as a Stack document." }),
});
/** A stack as the API reports it; clients (the CLI, tests) read the same type. */
export type StackSummary = Static<typeof stackSummary>;

export const listQuery = Type.Object({
  q: Type.Optional(Type.String({ maxLength: 200, description: "Substring of the stack name, case-insensitive." })),
  label: Type.Optional(Type.String({ maxLength: 200, pattern: "^[^=]+=[^=]*$", description: "key=value" })),
  team: Type.Optional(Type.String({ maxLength: 200, description: "The team label's value." })),
  environment: Type.Optional(Type.String({ maxLength: 200 })),
  stackSet: Type.Optional(Type.String({ maxLength: 200, description: "The StackSet that makes the stacks; - for stacks no StackSet makes." })),
  condition: Type.Optional(Type.Union(conditionFilters.map((condition) => Type.Literal(condition)))),
  state: Type.Optional(Type.Union(stackStates.map((state) => Type.Literal(state)))),
  names: Type.Optional(Type.String({ maxLength: 20_000, description: "Only these stacks, by name, comma-separated (the dashboard's favourites)." })),
  sort: Type.Optional(
    Type.Union(
      sortKeys.map((key) => Type.Literal(key)),
      { default: "name", description: "state sorts what needs a person first (Stalled, Degraded, Drifted, …, Ready last)." },
    ),
  ),
  order: Type.Optional(Type.Union([Type.Literal("asc"), Type.Literal("desc")], { default: "asc" })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
});
export const limitQuery = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })) });
export const accepted = Type.Object({ accepted: Type.Boolean(), message: Type.String() });
