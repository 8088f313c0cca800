// Route group: the dashboard — the files `npm run build` puts in dist/web,
// served at `/`. They hold no data; everything they show comes from the API
// with the token the user types in.

import { existsSync } from "node:fs";
import path from "node:path";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance } from "fastify";
import { packageRoot } from "../../package-root.js";

export async function dashboardRoutes(app: FastifyInstance): Promise<void> {
  const root = path.join(packageRoot(), "dist", "web");
  if (!existsSync(path.join(root, "index.html"))) {
    app.get("/", async (_request, reply) => reply.status(404).type("text/plain").send("The dashboard is not built: run npm run build.\n"));
    return;
  }
  await app.register(fastifyStatic, { root, prefix: "/", index: ["index.html"], wildcard: false });
}
