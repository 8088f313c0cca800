// The admission webhook's HTTPS server, apart from the API: the cluster's API
// server posts AdmissionReview requests for a stack's objects to
// /admission/v1/<stack>/<instance> and gets the agent's answer. No bearer
// token (the API server sends none); the answer says only allowed or why not.

import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { JsonObject } from "../sdk/resource.js";
import { redactor } from "../secrets/redaction.js";
import { installErrorHandling } from "./responses.js";

export interface AdmissionServerOptions {
  key: string;
  cert: string;
  review(stack: string, instance: string, body: unknown): Promise<JsonObject>;
  logger: Logger;
}

/** An AdmissionReview holds the object before and after the change; objects are at most 1.5 MiB in etcd. */
const bodyLimit = 8 * 1024 * 1024;

export async function createAdmissionServer(options: AdmissionServerOptions): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    https: { key: options.key, cert: options.cert },
    loggerInstance: options.logger as FastifyBaseLogger,
    bodyLimit,
    logController: new LogController({ disableRequestLogging: true }),
  });
  installErrorHandling(app);
  app.addHook("onSend", async (_request, _reply, payload) => (typeof payload === "string" ? redactor.redact(payload) : payload));
  app.post<{ Params: { stack: string; instance: string } }>(
    "/admission/v1/:stack/:instance",
    {
      schema: {
        params: {
          type: "object",
          properties: { stack: { type: "string", pattern: "^[a-z0-9][a-z0-9-]{0,62}$" }, instance: { type: "string", pattern: "^[a-z0-9][a-z0-9-]{0,62}$" } },
          required: ["stack", "instance"],
        },
      },
    },
    async (request) => options.review(request.params.stack, request.params.instance, request.body),
  );
  return app;
}
