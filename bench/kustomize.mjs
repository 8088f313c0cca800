// Renders a 1,000-object Kustomize tree — a base of 20 Deployments, 20
// Services and 60 ConfigMaps in each of ten component directories, built
// through a prod overlay that prefixes names, labels everything and patches
// replicas — and prints the median of five: `kubectl kustomize` alone as the
// floor, and Plumb's whole render of the stack (the isolated build, reading
// its output, values, validation and the dependency graph).

import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { defaultRegistry, renderStack } from "../dist/index.js";

const root = mkdtempSync(path.join(tmpdir(), "plumb-kustomize-bench-"));
const stack = path.join(root, "stack");
const write = (relative, text) => {
  mkdirSync(path.dirname(path.join(stack, relative)), { recursive: true });
  writeFileSync(path.join(stack, relative), text);
};

const parts = 10;
write(
  "stack.yaml",
  'apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: bench }\nspec:\n  environment: prod\n  kustomize: { path: "overlays/${values.environment}" }\n  providers:\n    cluster: { type: kubernetes, config: { kubeconfig: /dev/null } }\n',
);
for (let part = 0; part < parts; part++) {
  const files = [];
  for (let index = 0; index < 20; index++) {
    const name = `app${part}-${index}`;
    files.push(`${name}.yaml`);
    write(
      `base/part${part}/${name}.yaml`,
      `apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: ${name}, namespace: bench }\nspec:\n  replicas: 1\n  selector: { matchLabels: { app: ${name} } }\n  template:\n    metadata: { labels: { app: ${name} } }\n    spec: { containers: [ { name: app, image: "nginx:1.25", resources: { requests: { cpu: 100m, memory: 64Mi } } } ] }\n---\napiVersion: v1\nkind: Service\nmetadata: { name: ${name}, namespace: bench }\nspec: { clusterIP: None, selector: { app: ${name} }, ports: [ { port: 80, protocol: TCP } ] }\n` +
        [0, 1, 2]
          .map(
            (item) =>
              `---\napiVersion: v1\nkind: ConfigMap\nmetadata: { name: ${name}-${item}, namespace: bench }\ndata: { item: "${item}", owner: team${part} }\n`,
          )
          .join(""),
    );
  }
  write(`base/part${part}/kustomization.yaml`, `resources:\n${files.map((file) => `  - ${file}\n`).join("")}`);
}
write("base/kustomization.yaml", `bases:\n${Array.from({ length: parts }, (_, part) => `  - part${part}\n`).join("")}`);
write(
  "overlays/prod/kustomization.yaml",
  "bases:\n  - ../../base\nnamePrefix: prod-\ncommonLabels: { env: prod }\npatchesStrategicMerge:\n  - replicas.yaml\n",
);
write("overlays/prod/replicas.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: app0-0, namespace: bench }\nspec: { replicas: 3 }\n");

const seconds = (started) => Number(process.hrtime.bigint() - started) / 1e9;
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const load = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(" ");
const loadBefore = load();

try {
  const registry = defaultRegistry();
  const floors = [];
  const renders = [];
  let objects = 0;
  let resources = 0;
  for (let round = 0; round < 5; round++) {
    let started = process.hrtime.bigint();
    const output = execFileSync("kubectl", ["kustomize", path.join(stack, "overlays/prod")], {
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
      stdio: ["ignore", "pipe", "ignore"],
    });
    floors.push(seconds(started));
    objects = output.split(/^---$/m).length;
    started = process.hrtime.bigint();
    const rendered = await renderStack(stack, { registry });
    renders.push(seconds(started));
    resources = rendered.resources.length;
  }
  if (resources !== objects) throw new Error(`Plumb rendered ${resources} resources from ${objects} objects Kustomize built`);
  const floor = median(floors);
  const render = median(renders);
  console.log(`\nPlumb Kustomize benchmark: ${objects} objects built from ${parts} bases through a prod overlay, Node ${process.version}\n`);
  console.log(`kubectl kustomize alone (floor, median of 5)         ${floor.toFixed(2)} s`);
  console.log(`Plumb render of the stack, isolated (median of 5)    ${render.toFixed(2)} s  ${(render / floor).toFixed(2)}× the floor; ${resources} resources`);
  console.log(`load average (1, 5, 15 min) before: ${loadBefore}; after: ${load()}`);
} finally {
  rmSync(root, { recursive: true, force: true });
}
