// How the API answers besides success: one error body built from src/errors.ts,
// schema failures said as what is wrong where, and the browser protections
// every answer carries.

import type { FastifyInstance, FastifyReply } from "fastify";
import { errorMessage, PlumbError, PlumbErrorList } from "../errors.js";

/** Every error answer: the code, status and hint of src/errors.ts; `status` only for Fastify's own refusals. */
export function sendError(reply: FastifyReply, error: PlumbError, status = error.status): FastifyReply {
  return reply.status(status).send({ code: error.code, message: error.message, ...(error.hint === undefined ? {} : { hint: error.hint }) });
}

interface ValidationProblem {
  instancePath?: string;
  message?: string;
  params?: { allowedValues?: unknown[]; allowedValue?: unknown; additionalProperty?: string };
}

/** A request that failed its schema, said as what is wrong where, with the allowed values when there is a list. */
function validationMessage(error: { validation: ValidationProblem[]; validationContext?: string; message?: string }): string {
  const first = error.validation[0];
  if (first === undefined) return error.message ?? "invalid request";
  const where = `${error.validationContext ?? "request"}${first.instancePath === undefined || first.instancePath === "" ? "" : first.instancePath.replaceAll("/", ".")}`;
  const allowed = first.params?.allowedValues ?? (first.params?.allowedValue === undefined ? undefined : [first.params.allowedValue]);
  const extra = first.params?.additionalProperty === undefined ? "" : ` (${JSON.stringify(first.params.additionalProperty)})`;
  return `${where} ${first.message ?? "is invalid"}${extra}${allowed === undefined ? "" : `: ${allowed.map((value) => JSON.stringify(value)).join(", ")}`}`;
}

/**
 * The dashboard loads only its own scripts, styles and API: no inline script,
 * no framing, no other origins; responses are never sniffed into another type.
 */
export const securityHeaders = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
} as const;

/** The one error handler, the finite-number check on query strings and the JSON 404, for the whole server. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request, reply) => {
    if (error instanceof PlumbError) return sendError(reply, error);
    if (error instanceof PlumbErrorList) return sendError(reply, new PlumbError("PLUMB_INVALID", error.errors.map((item) => item.describe()).join("\n")));
    const fastifyError = error as { statusCode?: number; code?: string; message?: string; validation?: unknown };
    if (fastifyError.validation !== undefined)
      return sendError(
        reply,
        new PlumbError("PLUMB_USAGE", validationMessage(fastifyError as { validation: ValidationProblem[]; validationContext?: string; message?: string }), {
          hint: "see /api/v1/openapi.json for the request shape",
        }),
      );
    // Fastify's own refusals (an oversize body, an unknown media type) keep their status.
    if (typeof fastifyError.statusCode === "number" && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
      return sendError(reply, new PlumbError("PLUMB_USAGE", fastifyError.message ?? "bad request"), fastifyError.statusCode);
    }
    request.log.error({ err: errorMessage(error) }, "request failed");
    return sendError(reply, new PlumbError("PLUMB_INTERNAL", "internal error; the agent's log has the details"));
  });

  // Coercing "1e309" from a query string gives Infinity, which passes "integer" and every bound after it.
  app.addHook("preHandler", async (request, reply) => {
    const query = request.query as Record<string, unknown> | undefined;
    for (const [name, value] of Object.entries(query ?? {})) {
      if (typeof value === "number" && !Number.isFinite(value)) {
        return sendError(
          reply,
          new PlumbError("PLUMB_USAGE", `querystring.${name} must be a finite number`, { hint: "see /api/v1/openapi.json for the request shape" }),
        );
      }
    }
  });

  app.setNotFoundHandler(async (request, reply) =>
    sendError(
      reply,
      new PlumbError("PLUMB_NOT_FOUND", `no route ${request.method} ${request.url.split("?")[0]?.slice(0, 200) ?? ""}`, {
        hint: "the API is under /api/v1; /api/v1/openapi.json lists its routes",
      }),
    ),
  );
}
