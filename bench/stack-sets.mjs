// Benchmark: a StackSet that makes 1,000 stacks (a matrix of 500 team folders of
// the platform repository × 2 environments), read the way the agent reads its
// platform on every poll. Prints the median of 5 reads.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { scanPlatform } from "../dist/index.js";

const teams = Number(process.env.PLUMB_BENCH_TEAMS ?? 500);
const root = mkdtempSync(path.join(tmpdir(), "plumb-stacksets-"));
try {
  for (let team = 0; team < teams; team++) {
    mkdirSync(path.join(root, "teams", `team-${team}`), { recursive: true });
    writeFileSync(path.join(root, "teams", `team-${team}`, "files.yaml"), "");
  }
  mkdirSync(path.join(root, "platform"));
  writeFileSync(
    path.join(root, "platform", "teams.yaml"),
    `apiVersion: plumb.dev/v1\nkind: StackSet\nmetadata: { name: teams }\nspec:\n  generators:\n    - matrix:\n        generators:\n          - git: { directories: [ "teams/*" ] }\n          - list: { elements: [ { env: dev }, { env: prod } ] }\n  template:\n    metadata: { name: "{{ .path.basename }}-{{ .env }}", labels: { team: "{{ .path.basename }}", env: "{{ .env }}" } }\n    spec:\n      source: { path: "{{ .path.path }}" }\n      environment: "{{ .env }}"\n      providers: { default: { type: file, config: { root: "/srv/{{ .path.basename }}/{{ .env }}" } } }\n      sync: { auto: true, prune: true, selfHeal: true, interval: 1m, driftInterval: 10m }\n      metadata: { owner: "{{ .path.basename }}@example.org", complianceLevel: moderate }\n`,
  );
  const times = [];
  let count = 0;
  for (let round = 0; round < 5; round++) {
    const started = process.hrtime.bigint();
    const scan = await scanPlatform(path.join(root, "platform"), root);
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
    if (scan.problems.length > 0) throw new Error(scan.problems.map((problem) => problem.describe()).join("\n"));
    count = scan.stacks.size;
  }
  const median = [...times].sort((left, right) => left - right)[2];
  console.log(`\nPlumb StackSet benchmark, Node ${process.version}\n`);
  console.log(`platform read with a StackSet making ${count} stacks (median of 5)  ${median.toFixed(0)} ms  goal: a few seconds`);
} finally {
  rmSync(root, { recursive: true, force: true });
}
