// Route group: the dashboard — the files `npm run build` puts in dist/web,
// served at `/`. They hold no data; everything they show comes from the API
// with the token the user types in. Text files go out compressed ahead of
// time; the content-hashed assets are cached for good, index.html never; the
// source maps only when the operator asks for them.

import { existsSync } from "node:fs";
import path from "node:path";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance } from "fastify";
import { packageRoot } from "../../package-root.js";

export interface DashboardOptions {
  /** Serve the bundles' source maps (they show the dashboard's source to anyone who can reach it). */
  sourceMaps: boolean;
}

export async function dashboardRoutes(app: FastifyInstance, options: DashboardOptions): Promise<void> {
  const root = path.join(packageRoot(), "dist", "web");
  if (!existsSync(path.join(root, "index.html"))) {
    app.get("/", async (_request, reply) => reply.status(404).type("text/plain").send("The dashboard is not built: run npm run build.\n"));
    return;
  }
  await app.register(fastifyStatic, {
    root,
    prefix: "/",
    index: ["index.html"],
    wildcard: false,
    preCompressed: true,
    // The names under assets/ change with their content, so a browser may keep them; everything else is asked for again.
    cacheControl: false,
    setHeaders(response, file) {
      const immutable = path.relative(root, file).startsWith(`assets${path.sep}`);
      response.setHeader("cache-control", immutable ? "public, max-age=31536000, immutable" : "no-cache");
    },
    allowedPath: (pathName) => options.sourceMaps || !pathName.endsWith(".map"),
  });
}
