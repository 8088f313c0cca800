// Benchmark: 1,000 Kubernetes objects across 20 namespaces (ConfigMaps,
// headless Services, Deployments, Roles, RoleBindings) on a real kube-apiserver from
// ../shared/tools/kube, side by side in one run with the machine's kubectl:
// cold apply (Plumb against `kubectl apply --server-side`), and the no-op
// check (Plumb's observe + plan against `kubectl diff`), with the requests
// each made, counted by the API server itself. Needs Debian's etcd-server;
// the kubectl column is skipped without kubectl. Then one agent holding 100
// stacks × 100 ConfigMaps (10,000 objects) on the same server: converge, a
// drift sweep of every stack, and its resident memory. Services are headless: the
// test server's service range (a /24) has no room for both runs' addresses.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";
import { applyStackPlan, defaultRegistry, openSqliteStore, planStack, ProviderConnections, renderStack } from "../dist/index.js";
import { sleep, startBenchAgent } from "./agent-process.mjs";

const tools = path.resolve(import.meta.dirname, "..", "..", "shared", "tools", "kube");
const namespaces = Number(process.env.PLUMB_BENCH_NAMESPACES ?? 20);
const perNamespace = 50; // 10 of each of the five kinds
const root = mkdtempSync(path.join(tmpdir(), "plumb-kubebench-"));
const seconds = (started) => Number(process.hrtime.bigint() - started) / 1e9;

function start(directory) {
  mkdirSync(directory, { recursive: true });
  const output = execFileSync(path.join(tools, "start.sh"), [directory], { encoding: "utf8" });
  return Object.fromEntries(
    output
      .trim()
      .split("\n")
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
  );
}

/** The API server's own count of requests so far (apiserver_request_total, every verb and resource). */
function requestCount(server) {
  const agent = new Agent({ ca: readFileSync(server.KUBE_CA, "utf8") });
  return new Promise((resolve, reject) => {
    request(new URL("/metrics", server.KUBE_SERVER), { agent, headers: { authorization: `Bearer ${server.KUBE_TOKEN}` } }, (response) => {
      let text = "";
      response.on("data", (chunk) => (text += chunk));
      response.on("end", () => {
        let total = 0;
        for (const line of text.split("\n")) if (line.startsWith("apiserver_request_total{")) total += Number(line.slice(line.lastIndexOf(" ") + 1));
        agent.destroy();
        resolve(total);
      });
    })
      .on("error", reject)
      .end();
  });
}

function manifests(prefix) {
  const documents = [];
  for (let n = 0; n < namespaces; n++) {
    const ns = `${prefix}-${n}`;
    documents.push(`apiVersion: v1\nkind: Namespace\nmetadata: { name: ${ns} }\n`);
    for (let i = 0; i < perNamespace / 5; i++) {
      documents.push(`apiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings-${i}, namespace: ${ns} }\ndata: { mode: blue, index: "${i}" }\n`);
      documents.push(
        `apiVersion: v1\nkind: Service\nmetadata: { name: web-${i}, namespace: ${ns} }\nspec: { clusterIP: None, selector: { app: web-${i} }, ports: [ { port: 80, targetPort: 8080, protocol: TCP } ] }\n`,
      );
      documents.push(`apiVersion: apps/v1
kind: Deployment
metadata: { name: web-${i}, namespace: ${ns}, labels: { app: web-${i} } }
spec:
  replicas: 2
  selector: { matchLabels: { app: web-${i} } }
  template:
    metadata: { labels: { app: web-${i} } }
    spec: { containers: [ { name: web, image: "nginx:1.25", ports: [ { containerPort: 8080, protocol: TCP } ], resources: { requests: { cpu: 100m, memory: 64Mi } } } ] }
`);
      documents.push(
        `apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: { name: reader-${i}, namespace: ${ns} }\nrules: [ { apiGroups: [""], resources: [configmaps], verbs: [get, list] } ]\n`,
      );
      documents.push(
        `apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: { name: reader-${i}, namespace: ${ns} }\nroleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader-${i} }\nsubjects: [ { kind: Group, name: team-${i}, apiGroup: rbac.authorization.k8s.io } ]\n`,
      );
    }
  }
  return documents;
}

function writeStack(directory, kubeconfig, documents) {
  mkdirSync(directory, { recursive: true });
  writeFileSync(
    path.join(directory, "stack.yaml"),
    `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: fleet }\nspec:\n  providers:\n    cluster: { type: kubernetes, config: { kubeconfig: ${kubeconfig} } }\n  sync: { prune: true, concurrency: 16 }\n`,
  );
  writeFileSync(path.join(directory, "objects.yaml"), documents.join("---\n"));
}

async function plumbRun(stackDir, store, registry, server, applyToo) {
  const rendered = await renderStack(stackDir, { registry });
  const connections = new ProviderConnections(registry, rendered.definition);
  try {
    const before = await requestCount(server);
    const started = process.hrtime.bigint();
    const planned = await planStack(rendered, store, connections);
    const planSeconds = seconds(started);
    const planRequests = (await requestCount(server)) - before;
    if (!applyToo) return { planSeconds, planRequests, summary: planned.plan.summary };
    const applied = await applyStackPlan(rendered, planned, store, connections, { trigger: "bench", revision: null });
    if (applied.result.failed > 0)
      throw new Error(`plumb apply failed: ${applied.result.outcomes.find((outcome) => outcome.status === "failed")?.error?.message}`);
    return { seconds: seconds(started), requests: (await requestCount(server)) - before, summary: planned.plan.summary };
  } finally {
    await connections.closeAll();
  }
}

function kubectl(args, kubeconfig) {
  const started = process.hrtime.bigint();
  const result = spawnSync("kubectl", ["--kubeconfig", kubeconfig, ...args], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  return { seconds: seconds(started), status: result.status, stderr: result.stderr };
}

if (spawnSync("sh", ["-c", "command -v etcd"]).status !== 0) {
  console.log("\nPlumb Kubernetes benchmark: skipped, etcd is not installed (apt-get install etcd-server)");
  process.exit(0);
}
const rssMiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]) / 1024;

/** One agent, 100 stacks of 100 ConfigMaps each in their own namespace: converge, sweep, memory. */
async function agentFleet(server) {
  const stacks = 100;
  const platform = path.join(root, "fleet", "platform");
  mkdirSync(path.join(platform, "stacks"), { recursive: true });
  for (let stack = 0; stack < stacks; stack++) {
    const directory = path.join(platform, "apps", `k${stack}`);
    mkdirSync(directory, { recursive: true });
    const documents = [`apiVersion: v1\nkind: Namespace\nmetadata: { name: fleet-${stack} }\n`];
    for (let index = 0; index < 99; index++)
      documents.push(
        `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: c${index}, namespace: fleet-${stack} }\ndata: { stack: "${stack}", index: "${index}" }\n`,
      );
    writeFileSync(path.join(directory, "objects.yaml"), documents.join("---\n"));
    writeFileSync(
      path.join(platform, "stacks", `k${stack}.yaml`),
      `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: k${stack} }\nspec:\n  source: { path: apps/k${stack} }\n  providers: { cluster: { type: kubernetes, config: { kubeconfig: ${JSON.stringify(server.KUBECONFIG)} } } }\n  sync: { auto: true, selfHeal: true, interval: 1h, driftInterval: 1h }\n`,
    );
  }
  const agent = await startBenchAgent(root, "unused", ["--platform", platform, "--path", "stacks", "--workers", "4"], "fleet");
  try {
    const started = Date.now();
    for (;;) {
      const list = await agent.api("GET", "/api/v1/stacks?condition=Ready&limit=1");
      if (list.total >= stacks) break;
      if (Date.now() - started > 600_000) throw new Error(`only ${list.total} of ${stacks} stacks Ready after 10 minutes`);
      await sleep(500);
    }
    const convergeSeconds = (Date.now() - started) / 1000;
    const metric = async () => Number(/^plumb_run_duration_seconds_count\{kind="drift"\} (\S+)$/m.exec(await agent.api("GET", "/metrics"))?.[1] ?? 0);
    const before = await metric();
    const sweepStarted = Date.now();
    for (let stack = 0; stack < stacks; stack++) await agent.api("POST", `/api/v1/stacks/k${stack}/refresh`);
    while ((await metric()) < before + stacks) await sleep(100);
    const sweepSeconds = (Date.now() - sweepStarted) / 1000;
    return [
      [`agent: first converge of ${stacks} stacks × 100 objects`, convergeSeconds, ""],
      [`agent: drift sweep of ${stacks} stacks (10,000 objects)`, sweepSeconds, ""],
      ["agent: RSS after the sweep", NaN, `${rssMiB(agent.child.pid).toFixed(0)} MiB (goal < 300 MiB)`],
    ];
  } finally {
    await agent.stop();
  }
}

const rows = [];
const server = start(path.join(root, "kube"));
try {
  const registry = defaultRegistry();
  const objects = namespaces * perNamespace;
  const stackDir = path.join(root, "stack");
  writeStack(stackDir, server.KUBECONFIG, manifests("plumb"));
  const store = await openSqliteStore(path.join(root, "data"));
  const cold = await plumbRun(stackDir, store, registry, server, true);
  const noop = await plumbRun(stackDir, store, registry, server, false);
  await store.close();
  if (noop.summary.noop !== objects + namespaces) throw new Error(`the no-op plan is not empty: ${JSON.stringify(noop.summary)}`);
  rows.push([`cold apply: Plumb (${objects} objects + ${namespaces} namespaces)`, cold.seconds, `${cold.requests} requests`]);
  // Five namespaced kinds in each namespace, and the namespaces themselves: one LIST each, plus discovery.
  rows.push(["no-op check: Plumb observe + plan", noop.planSeconds, `${noop.planRequests} requests (${5 * namespaces + 1} kind × namespace LISTs)`]);

  const hasKubectl = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" }).status === 0;
  if (hasKubectl) {
    const kubectlDir = path.join(root, "kubectl");
    mkdirSync(kubectlDir);
    const documents = manifests("kubectl");
    // Namespaces first, as kubectl needs them to exist before what lives in them.
    writeFileSync(path.join(kubectlDir, "0-namespaces.yaml"), documents.filter((document) => document.includes("kind: Namespace")).join("---\n"));
    writeFileSync(path.join(kubectlDir, "1-objects.yaml"), documents.filter((document) => !document.includes("kind: Namespace")).join("---\n"));
    const before = await requestCount(server);
    const applied = kubectl(["apply", "--server-side", "-f", kubectlDir], server.KUBECONFIG);
    if (applied.status !== 0) throw new Error(`kubectl apply failed: ${applied.stderr.slice(0, 500)}`);
    const afterApply = await requestCount(server);
    const diff = kubectl(["diff", "--server-side", "-f", kubectlDir], server.KUBECONFIG);
    const afterDiff = await requestCount(server);
    if (diff.status !== 0) throw new Error(`kubectl diff found changes or failed (${diff.status}): ${diff.stderr.slice(0, 500)}`);
    rows.push([
      "cold apply: kubectl apply --server-side -f",
      applied.seconds,
      `${afterApply - before} requests; Plumb ${(cold.seconds / applied.seconds).toFixed(2)}× (goal ≤ 1.0×)`,
    ]);
    rows.push([
      "no-op check: kubectl diff --server-side",
      diff.seconds,
      `${afterDiff - afterApply} requests; Plumb ${(noop.planSeconds / diff.seconds).toFixed(2)}× (goal ≤ 0.25×)`,
    ]);
  } else rows.push(["kubectl", NaN, "skipped: kubectl is not installed"]);
  rows.push(...(await agentFleet(server)));
} finally {
  execFileSync(path.join(tools, "stop.sh"), [path.join(root, "kube")]);
  rmSync(root, { recursive: true, force: true });
}

console.log(`\nPlumb Kubernetes benchmark: kube-apiserver 1.20 from ../shared/tools/kube, Node ${process.version}\n`);
console.log(`${"step".padEnd(62)}  ${"seconds".padStart(8)}  note`);
console.log(`${"-".repeat(62)}  ${"-".repeat(8)}  ${"-".repeat(40)}`);
for (const [step, value, note] of rows) console.log(`${step.padEnd(62)}  ${Number.isNaN(value) ? "-".padStart(8) : value.toFixed(2).padStart(8)}  ${note}`);
