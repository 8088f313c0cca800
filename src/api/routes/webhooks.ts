// Route group: the Git webhook receiver — raw bytes in, capped at 1 MiB, the
// signature checked before any parsing, then the stacks reading the pushed
// repository look at once. Registered as its own scope, since it replaces the
// JSON body parser.

import type { FastifyInstance } from "fastify";
import { PlumbError } from "../../errors.js";
import { sendError } from "../responses.js";
import type { RouteContext } from "../route-context.js";
import { readPush, verifyWebhook } from "../webhooks.js";

const maxWebhookBytes = 1024 * 1024;

export async function webhookRoutes(app: FastifyInstance, { commands, webhookSecret }: RouteContext & { webhookSecret: string | undefined }): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: maxWebhookBytes }, (_request, body, done) => done(null, body));
  app.post("/hooks/git", { schema: { hide: true } }, async (request, reply) => {
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    if (webhookSecret === undefined)
      return sendError(
        reply,
        new PlumbError("PLUMB_UNAUTHORIZED", "webhooks are not enabled on this agent", { hint: "start the agent with PLUMB_WEBHOOK_SECRET set" }),
      );
    const verdict = verifyWebhook(request.headers, body, webhookSecret);
    if (!verdict.ok) return sendError(reply, new PlumbError("PLUMB_UNAUTHORIZED", verdict.reason));
    const event = request.headers["x-github-event"] ?? request.headers["x-gitea-event"] ?? request.headers["x-gitlab-event"];
    if (event === "ping") return reply.status(200).send({ accepted: true, triggered: [] });
    let payload: unknown;
    try {
      payload = JSON.parse(body.toString("utf8"));
    } catch {
      return sendError(reply, new PlumbError("PLUMB_USAGE", "the webhook body is not JSON", { hint: "configure the webhook to send application/json" }));
    }
    const push = readPush(payload);
    if (push === undefined) return reply.status(202).send({ accepted: true, triggered: [], message: "not a push event; nothing to do" });
    const triggered = [...new Set((await Promise.all(push.repositoryUrls.map((url) => commands.notifyPush(url, push.ref)))).flat())];
    request.log.info({ sender: verdict.sender, ref: push.ref, triggered }, "webhook");
    return reply.status(202).send({ accepted: true, triggered });
  });
}
