// The RabbitMQ provider against a real broker (Debian's rabbitmq-server with
// the management plugin): a vhost's whole topology created in dependency
// order, drift made by hand and healed, in-place update, replacement, prune
// and the deletion policy, hostile names, an unreachable broker, and passwords
// that never leave the agent.

import { afterEach, describe, expect, it } from "vitest";
import { expectNowhere, providerWorkspace, resourceWriter, runCli, type CliResult, type Workspace } from "./helpers.js";
import { freePort } from "./postgres-server.js";
import { useRabbitmq } from "./rabbitmq-server.js";

const server = useRabbitmq();
let workspace: Workspace;
afterEach(() => workspace?.cleanup());

const adminSecret = () => ({ PLUMB_SECRET_RABBIT_ADMIN_PASSWORD: server.password });

function stack(name: string, resources: string, options: { url?: string } = {}): void {
  workspace = providerWorkspace(
    name,
    `mq: { type: rabbitmq, config: { url: "${options.url ?? server.url}", user: admin, password: { secretRef: { name: rabbit-admin, key: password } }, timeoutSeconds: 5 } }`,
    "mq.yaml",
    resources,
  );
}

function plumb(args: string[], env: Record<string, string> = {}): CliResult {
  return runCli([...args, "--data-dir", workspace.dataDir], { env: { ...adminSecret(), ...env } });
}

const resource = resourceWriter("rabbitmq.plumb.dev/v1", "mq");
const vhost = resource("VHost");
const user = resource("User");
const permission = resource("Permission");
const exchange = resource("Exchange");
const queue = resource("Queue");
const binding = resource("Binding");
const policy = resource("Policy");

const appPassword = "app-Rabbit-canary-2b7c";
const secrets = { PLUMB_SECRET_APP_MQ_PASSWORD: appPassword };
const passwordRef = "{ secretRef: { name: app-mq, key: password } }";
const encoded = encodeURIComponent;

function topology(prefix: string): string {
  return (
    vhost(`${prefix}-vh`, "{ description: orders, tags: { team: orders } }") +
    user(`${prefix}-app`, `{ password: ${passwordRef}, tags: [monitoring] }`) +
    permission(`${prefix}-perm`, `{ user: ${prefix}-app, vhost: ${prefix}-vh, configure: "^$", write: "^orders\\\\.", read: ".*" }`) +
    exchange(`${prefix}-events`, `{ vhost: ${prefix}-vh, name: orders.events, type: topic }`) +
    queue(`${prefix}-q`, `{ vhost: ${prefix}-vh, name: orders.created, type: quorum, arguments: { x-max-length: 1000 } }`) +
    binding(`${prefix}-bind`, `{ vhost: ${prefix}-vh, source: orders.events, destination: orders.created, routingKey: "order.created.#" }`) +
    policy(`${prefix}-ttl`, `{ vhost: ${prefix}-vh, pattern: "^orders\\\\.", applyTo: queues, definition: { message-ttl: 60000 } }`)
  );
}

describe("rabbitmq provider", () => {
  it("creates a vhost's topology in dependency order, with tags, then has nothing to do", async () => {
    stack("mq-create", topology("c"));
    const applied = plumb(["apply", workspace.stackDir, "--yes"], secrets);
    expect(applied.stderr).toBe("");
    expect(applied.stdout).toContain("7 created");
    const vh = (await server.api("GET", "/vhosts/c-vh")) as { tags: string[]; description: string };
    expect(vh).toMatchObject({ description: "orders", tags: ["team=orders"] });
    expect(await server.canLogin("c-app", appPassword)).toBe(true);
    expect(await server.api("GET", "/permissions/c-vh/c-app")).toMatchObject({ configure: "^$", write: "^orders\\.", read: ".*" });
    expect(await server.api("GET", "/queues/c-vh/orders.created")).toMatchObject({ type: "quorum", durable: true, arguments: { "x-max-length": 1000 } });
    const bindings = (await server.api("GET", "/bindings/c-vh/e/orders.events/q/orders.created")) as { routing_key: string }[];
    expect(bindings.map((item) => item.routing_key)).toEqual(["order.created.#"]);
    expect(await server.api("GET", "/policies/c-vh/c-ttl")).toMatchObject({
      pattern: "^orders\\.",
      "apply-to": "queues",
      definition: { "message-ttl": 60000 },
    });
    const again = plumb(["plan", workspace.stackDir, "--detailed-exitcode"], secrets);
    expect(again.stdout).toContain("Plan: no changes; 7 unchanged.");
    expect(again.status).toBe(0);
  });

  it("finds a password, permissions, a policy, a tag and a binding changed by hand, and puts them back", async () => {
    stack("mq-drift", topology("d"));
    expect(plumb(["apply", workspace.stackDir, "--yes"], secrets).status).toBe(0);
    await server.api("PUT", "/users/d-app", { password: "set-by-hand-pw", tags: "administrator" });
    await server.api("PUT", "/permissions/d-vh/d-app", { configure: ".*", write: ".*", read: ".*" });
    await server.api("PUT", "/policies/d-vh/d-ttl", { pattern: ".*", definition: { "message-ttl": 1 }, "apply-to": "all" });
    await server.api("PUT", "/vhosts/d-vh", { description: "changed", tags: "" });
    const [bound] = (await server.api("GET", "/bindings/d-vh/e/orders.events/q/orders.created")) as { properties_key: string }[];
    await server.api("DELETE", `/bindings/d-vh/e/orders.events/q/orders.created/${encoded(bound?.properties_key ?? "")}`);
    const planned = plumb(["plan", workspace.stackDir, "--detailed-exitcode"], secrets);
    expect(planned.status).toBe(2);
    for (const field of ["password", "tags", "configure", "pattern", "description", "Binding/d-bind  recreate"]) expect(planned.stdout).toContain(field);
    expect(planned.stdout).not.toContain("set-by-hand-pw");
    expect(plumb(["apply", workspace.stackDir, "--yes"], secrets).status).toBe(0);
    expect(await server.canLogin("d-app", appPassword)).toBe(true);
    expect(await server.api("GET", "/users/d-app")).toMatchObject({ tags: ["monitoring"] });
    expect(await server.api("GET", "/permissions/d-vh/d-app")).toMatchObject({ configure: "^$" });
    expect(await server.api("GET", "/vhosts/d-vh")).toMatchObject({ description: "orders", tags: ["team=orders"] });
    expect(await server.api("GET", "/bindings/d-vh/e/orders.events/q/orders.created")).toHaveLength(1);
    expect(plumb(["plan", workspace.stackDir, "--detailed-exitcode"], secrets).status).toBe(0);
  });

  it("updates a policy in place, replaces an exchange whose type changes, and refuses to replace a queue without deletion-policy Delete", async () => {
    stack(
      "mq-update",
      vhost("u-vh", "{}") +
        exchange("u-ex", "{ vhost: u-vh, type: direct }") +
        queue("u-q", "{ vhost: u-vh }") +
        policy("u-pol", "{ vhost: u-vh, pattern: x, definition: { max-length: 5 } }"),
    );
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    workspace.write(
      "mq.yaml",
      vhost("u-vh", "{}") +
        exchange("u-ex", "{ vhost: u-vh, type: fanout }") +
        queue("u-q", "{ vhost: u-vh }") +
        policy("u-pol", "{ vhost: u-vh, pattern: x, definition: { max-length: 9 } }"),
    );
    const applied = plumb(["apply", workspace.stackDir, "--yes"]);
    expect(applied.stdout).toContain("1 updated");
    expect(applied.stdout).toContain("1 replaced");
    expect(await server.api("GET", "/exchanges/u-vh/u-ex")).toMatchObject({ type: "fanout" });
    expect(await server.api("GET", "/policies/u-vh/u-pol")).toMatchObject({ definition: { "max-length": 9 } });
    workspace.write("mq.yaml", vhost("u-vh", "{}") + exchange("u-ex", "{ vhost: u-vh, type: fanout }") + queue("u-q", "{ vhost: u-vh, type: quorum }"));
    const refused = plumb(["plan", workspace.stackDir]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("would replace rabbitmq.plumb.dev/v1/Queue/u-q, destroying the data it holds");
  });

  it("prunes users, permissions and bindings, keeps a queue by default, and deletes one only with deletion-policy Delete", async () => {
    stack(
      "mq-prune",
      vhost("p-vh", "{}", ", plumb.dev/deletion-policy: Retain") +
        user("p-user", "{}") +
        permission("p-perm", "{ user: p-user, vhost: p-vh, configure: '', write: '', read: '.*' }") +
        queue("p-kept", "{ vhost: p-vh }") +
        queue("p-dropped", "{ vhost: p-vh }", ", plumb.dev/deletion-policy: Delete") +
        binding("p-bind", "{ vhost: p-vh, source: amq.direct, destination: p-kept, routingKey: k }"),
    );
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    workspace.write("mq.yaml", vhost("p-vh", "{}", ", plumb.dev/deletion-policy: Retain"));
    const applied = plumb(["apply", workspace.stackDir, "--yes"]);
    expect(applied.status).toBe(0);
    expect(applied.stdout).toContain("1 no longer managed");
    const queues = ((await server.api("GET", "/queues/p-vh")) as { name: string }[]).map((item) => item.name);
    expect(queues).toEqual(["p-kept"]);
    expect(await server.api("GET", "/bindings/p-vh/e/amq.direct/q/p-kept")).toEqual([]);
    expect(((await server.api("GET", "/users")) as { name: string }[]).map((item) => item.name)).not.toContain("p-user");
  });

  it("creates objects with hostile names exactly: slashes, dots, quotes and percent signs stay inside one name", async () => {
    const hostileVhost = "team/../a b%2F'";
    const hostileQueue = "q/../../vhosts?x=1#%";
    stack(
      "mq-hostile",
      vhost("h-vh", `{ name: ${JSON.stringify(hostileVhost)}, tags: { "a,b": "c=d%" } }`) +
        queue("h-q", `{ vhost: ${JSON.stringify(hostileVhost)}, name: ${JSON.stringify(hostileQueue)} }`),
    );
    const applied = plumb(["apply", workspace.stackDir, "--yes"]);
    expect(applied.stderr).toBe("");
    const queues = (await server.api("GET", `/queues/${encoded(hostileVhost)}`)) as { name: string }[];
    expect(queues.map((item) => item.name)).toEqual([hostileQueue]);
    expect(((await server.api("GET", "/vhosts")) as { name: string }[]).map((item) => item.name)).toContain(hostileVhost);
    expect(plumb(["plan", workspace.stackDir, "--detailed-exitcode"]).status).toBe(0);
    // . and .. cannot be named in a URL, encoded or not: refused before anything is sent.
    workspace.write("mq.yaml", vhost("dots", "{ name: '..' }") + queue("dots-q", "{ vhost: '..', name: q }"));
    const dots = plumb(["plan", workspace.stackDir]);
    expect(dots.status).toBe(1);
    expect(dots.stderr).toContain('vhost name ".." cannot be addressed through the management API');
    expect(dots.stderr).toContain("spec.vhost");
  });

  it("rotates a password, keeps only digests, and never shows a password anywhere", async () => {
    const rotated = "rotated-Rabbit-canary-6e0a";
    stack("mq-secret", user("s-user", `{ password: ${passwordRef}, tags: [management] }`));
    const outputs: string[] = [];
    const run = (args: string[], env: Record<string, string>) => {
      const result = plumb(args, env);
      outputs.push(result.stdout, result.stderr);
      return result;
    };
    expect(run(["apply", workspace.stackDir, "--yes"], secrets).status).toBe(0);
    expect(run(["plan", workspace.stackDir, "--detailed-exitcode"], { PLUMB_SECRET_APP_MQ_PASSWORD: rotated }).status).toBe(2);
    expect(run(["apply", workspace.stackDir, "--yes"], { PLUMB_SECRET_APP_MQ_PASSWORD: rotated }).status).toBe(0);
    expect(await server.canLogin("s-user", rotated)).toBe(true);
    expect(await server.canLogin("s-user", appPassword)).toBe(false);
    expect(run(["state", "show", "rabbitmq.plumb.dev/v1/User/s-user"], {}).stdout).toContain("digest: hmac-sha256:");
    run(["history"], {});
    expectNowhere([appPassword, rotated, server.password], outputs, workspace.dataDir);
  });

  it("reports a wrong admin password and an unreachable broker by address, and another stack still applies", async () => {
    stack("mq-wrongpw", vhost("w-vh", "{}"));
    const wrong = plumb(["plan", workspace.stackDir], { PLUMB_SECRET_RABBIT_ADMIN_PASSWORD: "not-the-admin-pw-4d" });
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toContain(`RabbitMQ at ${new URL(server.url).host}`);
    expect(wrong.stderr).toContain("refused the login");
    expect(wrong.stderr).not.toContain("not-the-admin-pw-4d");
    const closedPort = await freePort();
    const sharedData = workspace.dataDir;
    workspace.cleanup();
    stack("mq-unreachable", vhost("x-vh", "{}"), { url: `http://127.0.0.1:${closedPort}` });
    const unreachable = runCli(["plan", workspace.stackDir, "--data-dir", sharedData], { env: adminSecret() });
    expect(unreachable.status).toBe(1);
    expect(unreachable.stderr).toContain(`cannot reach RabbitMQ at 127.0.0.1:${closedPort}`);
    workspace.cleanup();
    stack("mq-healthy", vhost("ok-vh", "{}"));
    expect(runCli(["apply", workspace.stackDir, "--yes", "--data-dir", sharedData], { env: adminSecret() }).status).toBe(0);
    expect(await server.api("GET", "/vhosts/ok-vh")).toMatchObject({ name: "ok-vh" });
  });
});
