// The child side of the program sandbox: bundled together with a stack's
// program and the platform's composites, run in a Node process with no
// environment and file reads limited to the source. It runs the program,
// expands composite claims (validating each against its schema), and writes one
// JSON answer to file descriptor 3; whatever the user's code prints goes to
// stdout and stderr, which the parent only keeps a tail of.

import { readFileSync, writeSync } from "node:fs";
import type { TSchema } from "@sinclair/typebox";
import type { CompositeDefinition, PolicyRule, ResourceView, RuleResult, StackContext } from "../sdk/program.js";
import { captureCallSites, collectAsync, type Declaration, type SourceSite } from "../sdk/program-scope.js";
import { checkAndFillDefaults } from "../schema-check.js";
import {
  sandboxProtocol,
  type ClaimProblem,
  type EmittedClaim,
  type EmittedResource,
  type RuleViolation,
  type SandboxAnswer,
  type SandboxModules,
  type SandboxRequest,
  type DescribedComposite,
  type DescribedRule,
} from "./sandbox-protocol.js";

const denied = (what: string) => () => {
  throw new Error(`${what} is not available to programs and composites: they only declare resources; Plumb's engine does the I/O`);
};

/** Closes what Node's permission model leaves open; runs before any user code is loaded. */
function lockDown(): void {
  const environmentMessage =
    "process.env is not available to programs: they run without environment variables or credentials; pass settings through values.yaml (context.values) instead";
  const empty = Object.freeze({});
  Object.defineProperty(process, "env", {
    // Node's own modules read process.env (console colours, say); they get an empty one.
    get: function environment() {
      const caller = captureCallSites(environment)[0]?.getFileName() ?? "";
      if (caller.startsWith("node:")) return empty;
      throw new Error(environmentMessage);
    },
    configurable: false,
  });
  for (const name of ["fetch", "WebSocket", "EventSource"] as const) {
    if (name in globalThis) Object.defineProperty(globalThis, name, { get: denied(`network access (${name})`), configurable: false });
  }
  const processEscapes = process as unknown as Record<string, unknown>;
  for (const name of ["binding", "_linkedBinding", "dlopen", "exit", "abort", "kill", "chdir"]) processEscapes[name] = denied(`process.${name}`);
}

/** `explain`, for a thrown value that may itself be hostile (a getter that throws, a proxy). */
function safeExplain(error: unknown): string {
  try {
    return String(explain(error));
  } catch {
    return "threw a value that cannot be described (reading it threw again)";
  }
}

function safeSiteOf(error: unknown): SourceSite | null {
  try {
    return siteOf(error);
  } catch {
    return null;
  }
}

/** Turns Node's permission errors into messages a program author can act on. */
function explain(error: unknown): string {
  if (!(error instanceof Error)) return `threw ${JSON.stringify(error) ?? String(error)}`;
  const details = error as Error & { code?: string; permission?: string; resource?: string };
  if (details.code === "ERR_ACCESS_DENIED") {
    switch (details.permission) {
      case "FileSystemRead":
        return `reading ${details.resource ?? "a file"} is not allowed: a program may read files only inside its own stack directory`;
      case "FileSystemWrite":
        return `writing ${details.resource ?? "a file"} is not allowed: programs cannot write files; declare a file.plumb.dev/v1 File instead`;
      case "ChildProcess":
        return "starting a process is not allowed in a program or composite";
      case "WorkerThreads":
        return "worker threads are not allowed in a program or composite";
      default:
        return `${details.permission ?? "this operation"} is not allowed in a program or composite`;
    }
  }
  const dynamicRequire = /^Dynamic require of "(.+)" is not supported$/.exec(error.message);
  if (dynamicRequire !== null)
    return `require("${dynamicRequire[1]}") is not available: programs are ES modules; write import … from "${dynamicRequire[1]}" at the top of the file`;
  return error.message;
}

const framePosition = /\(?((?:[A-Za-z]:)?[^():]+):(\d+):(\d+)\)?$/;

/** Where user code threw: the first frame that is not Plumb's own. */
function siteOf(error: unknown): SourceSite | null {
  if (!(error instanceof Error) || typeof error.stack !== "string") return null;
  for (const line of error.stack.split("\n").slice(1)) {
    if (/[/\\]src[/\\](sdk|render)[/\\]/.test(line) || line.includes("node:") || line.includes("sandbox.mjs")) continue;
    const match = framePosition.exec(line.trim());
    if (match !== null) return { file: match[1] as string, line: Number(match[2]), column: Number(match[3]) };
  }
  return null;
}

function answer(value: SandboxAnswer): void {
  const text = `${JSON.stringify(value)}\n`;
  const buffer = Buffer.from(text);
  let written = 0;
  while (written < buffer.length) written += writeSync(3, buffer, written);
}

function isComposite(value: unknown): value is CompositeDefinition<TSchema> {
  if (typeof value !== "object" || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return (
    typeof candidate.apiVersion === "string" &&
    typeof candidate.kind === "string" &&
    typeof candidate.compose === "function" &&
    typeof candidate.schema === "object" &&
    candidate.schema !== null
  );
}

function isRule(value: unknown): value is PolicyRule {
  if (typeof value !== "object" || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return typeof candidate.name === "string" && typeof candidate.check === "function" && ["deny", "warn", "remediate"].includes(String(candidate.level));
}

function kindMatches(kinds: readonly string[] | undefined, resource: ResourceView): boolean {
  return kinds === undefined || kinds.some((kind) => kind === resource.kind || kind === `${resource.apiVersion}/${resource.kind}`);
}

/** Runs every rule over the stack's provider resources; a rule that throws counts as not met, with why. */
async function runRules(rules: readonly PolicyRule[], resources: readonly ResourceView[], context: StackContext): Promise<RuleViolation[]> {
  const violations: RuleViolation[] = [];
  for (const rule of rules) {
    const about = `rule ${rule.name}${rule.description === "" ? "" : ` (${rule.description})`}`;
    const matching = resources.filter((resource) => kindMatches(rule.kinds, resource));
    if (rule.scope === "stack") {
      let found: string[];
      try {
        const result = await rule.check(
          matching.map((resource) => structuredClone(resource)),
          context,
        );
        found = result === undefined ? [] : Array.isArray(result) ? result.map(String) : [String(result)];
      } catch (error) {
        found = [`the rule failed: ${safeExplain(error)}`];
      }
      for (const message of found)
        violations.push({
          rule: `rule/${rule.name}`,
          level: rule.level,
          address: `stack ${context.stack}`,
          message: `stack ${context.stack} does not meet ${about}: ${message}`,
          hint: rule.description,
          fix: null,
        });
      continue;
    }
    for (const resource of matching) {
      let result: RuleResult;
      try {
        result = await rule.check(structuredClone(resource), context);
      } catch (error) {
        result = `the rule failed: ${safeExplain(error)}`;
      }
      if (result === undefined) continue;
      const finding =
        typeof result === "string"
          ? { message: result }
          : { message: String(result.message), ...(result.fix === undefined ? {} : { fix: plain(result.fix) as Record<string, unknown> }) };
      const fixed = rule.level === "remediate" && finding.fix !== undefined;
      violations.push({
        rule: `rule/${rule.name}`,
        level: fixed ? "remediate" : rule.level === "remediate" ? "warn" : rule.level,
        address: resource.address,
        message: `${resource.address} does not meet ${about}: ${finding.message}${
          fixed
            ? `; fixed: ${Object.entries(finding.fix ?? {})
                .map(([pointer, value]) => `${pointer} = ${JSON.stringify(value)}`)
                .join(", ")}`
            : ""
        }`,
        hint: fixed ? "change the resource in Git to match the rule" : rule.description,
        fix: fixed ? (finding.fix ?? null) : null,
      });
    }
  }
  return violations;
}

/** JSON, with Output objects turned into `{ outputRef }` by their toJSON. */
function plain(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

export async function runSandbox(modules: SandboxModules): Promise<void> {
  lockDown();
  const request = JSON.parse(readFileSync(0, "utf8")) as SandboxRequest;
  let phase = "loading the platform's composites and rules";
  try {
    const composites = new Map<string, { file: string; definition: CompositeDefinition<TSchema> }>();
    const rules: { file: string; rule: PolicyRule }[] = [];
    for (const entry of modules.platform) {
      const loaded = await entry.load();
      const exported = Array.isArray(loaded.default) ? (loaded.default as unknown[]) : [loaded.default];
      for (const definition of exported) {
        if (isComposite(definition)) composites.set(`${definition.apiVersion}/${definition.kind}`, { file: entry.file, definition });
        else if (isRule(definition)) rules.push({ file: entry.file, rule: definition });
        else
          throw new Error(
            `${entry.file}: the default export must be defineComposite({ apiVersion, kind, description, schema, compose }), defineRule({ name, level, description, check }), or a list of them`,
          );
      }
    }
    const described: DescribedComposite[] = [...composites.values()].map(({ file, definition }) => ({
      file,
      apiVersion: definition.apiVersion,
      kind: definition.kind,
      description: typeof definition.description === "string" ? definition.description : "",
      schema: plain(definition.schema),
      examples: (plain(definition.examples ?? []) as unknown[]) ?? [],
    }));
    const describedRules: DescribedRule[] = rules.map(({ file, rule }) => ({
      file,
      name: rule.name,
      level: rule.level,
      scope: rule.scope ?? "resource",
      description: typeof rule.description === "string" ? rule.description : "",
    }));
    if (request.mode === "describe") {
      answer({ protocol: sandboxProtocol, ok: true, composites: described, rules: describedRules, resources: [], claims: [], problems: [], violations: [] });
      return;
    }

    const queue: { declaration: Declaration; composite: string | null; input: number | null; depth: number }[] = [];
    if (request.program && modules.program !== undefined) {
      phase = "loading the program";
      const program = await modules.program();
      if (typeof program.default !== "function") throw new Error("main.ts must have a default export: export default function (context) { … }");
      phase = "running the program";
      const run = program.default as (context: StackContext) => unknown;
      const { declared } = await collectAsync(async () => run(request.context));
      for (const declaration of declared) queue.push({ declaration, composite: null, input: null, depth: 0 });
    }
    for (const claim of request.claims) {
      queue.push({ declaration: { ...claim, site: null }, composite: null, input: claim.input, depth: 0 });
    }

    const resources: EmittedResource[] = [];
    const claims: EmittedClaim[] = [];
    const problems: ClaimProblem[] = [];
    for (let index = 0; index < queue.length; index += 1) {
      const { declaration, composite, input, depth } = queue[index] as (typeof queue)[number];
      const emitted: EmittedResource = {
        apiVersion: declaration.apiVersion,
        kind: declaration.kind,
        metadata: { name: declaration.name, labels: declaration.labels, annotations: declaration.annotations },
        spec: plain(declaration.spec) ?? {},
        site: declaration.site,
        composite,
        input,
      };
      const found = composites.get(`${declaration.apiVersion}/${declaration.kind}`);
      if (found === undefined) {
        resources.push(emitted);
        continue;
      }
      const address = `${declaration.apiVersion}/${declaration.kind}/${declaration.name}`;
      claims.push({ ...emitted, address });
      if (depth >= request.maxDepth) {
        problems.push({
          claim: address,
          path: [],
          message: `composites nest deeper than ${request.maxDepth} levels`,
          hint: "a compose function probably declares a claim of its own kind",
          site: declaration.site,
          input,
        });
        continue;
      }
      const schemaProblems = checkAndFillDefaults(found.definition.schema, emitted.spec);
      if (schemaProblems.length > 0) {
        for (const problem of schemaProblems) problems.push({ claim: address, ...problem, site: declaration.site, input });
        continue;
      }
      phase = `composing ${address}`;
      const claimView = {
        apiVersion: declaration.apiVersion,
        kind: declaration.kind,
        name: declaration.name,
        address,
        labels: declaration.labels,
        spec: emitted.spec as never,
      };
      const { declared } = await collectAsync(async () => found.definition.compose(claimView, request.context));
      for (const child of declared) queue.push({ declaration: child, composite: address, input: null, depth: depth + 1 });
    }
    phase = "running the platform's policy rules";
    const views: ResourceView[] = [
      ...request.resources,
      ...resources.map((resource) => ({
        apiVersion: resource.apiVersion,
        kind: resource.kind,
        name: resource.metadata.name,
        address: `${resource.apiVersion}/${resource.kind}/${resource.metadata.name}`,
        labels: resource.metadata.labels,
        annotations: resource.metadata.annotations,
        spec: (resource.spec ?? {}) as Record<string, unknown>,
      })),
    ];
    const violations =
      rules.length === 0
        ? []
        : await runRules(
            rules.map((entry) => entry.rule),
            views,
            request.context,
          );
    answer({ protocol: sandboxProtocol, ok: true, composites: described, rules: describedRules, resources, claims, problems, violations });
  } catch (error) {
    answer({ protocol: sandboxProtocol, ok: false, error: { message: `${phase}: ${safeExplain(error)}`, site: safeSiteOf(error) } });
  }
}
