// The platform repository: where the agent finds its Stack documents. Each
// Stack names a source (this repository or another, a ref and a path); a bad
// Stack document is reported on its own and never hides the others.

import path from "node:path";
import { PlumbError, PlumbErrorList } from "../errors.js";
import { readYamlFiles } from "../render/read-source.js";
import { checkAgainstSchema, formatFieldPath } from "../schema-check.js";
import { stackApiVersion, stackDocumentSchema, stackKind, type StackDocument } from "../stack-definition.js";
import { isPlainObject } from "../render/values.js";
import { parseYamlDocuments, type ParsedDocument } from "../render/yaml-documents.js";
import { parseRef, validateRepositoryUrl, type GitSource } from "../source/git.js";
import type { SecretResolver } from "../secrets/references.js";
import { checkSecretStoreDocument, secretStoreKind, type SecretStoreDocument } from "../secrets/stores.js";
import { emptyProjects, readProjectDocument, type PlatformProjects } from "./platform-projects.js";
import { readNotificationSink, type PlacedSink } from "./notification-sinks.js";
import { readProviderPlugin, type PluginDeclaration } from "./provider-plugins.js";
import { applyPins, emptyPromotions, readPromotionDocument, type PlatformPromotions } from "./platform-promotion.js";
import { generateStacks, stackSetKind, type RepositoryReader } from "./stack-sets.js";
import { checkRuleExpressions, compliancePolicyKind, compliancePolicySchema, type CompliancePolicy } from "../policy/compliance.js";

export interface PlatformStack {
  name: string;
  document: StackDocument;
  /** Where the document is, relative to the platform path, with its line (a generated stack's: its StackSet's). */
  file: string;
  line: number;
  /** The StackSet that made it, if one did. */
  stackSet?: string;
  /** The Pin that holds its source at one commit (a promotion wrote it), if one does. */
  pin?: { revision: string; file: string; line: number; promotedFrom?: string };
}

export interface PlatformScan {
  stacks: Map<string, PlatformStack>;
  /** The platform's CompliancePolicy, when it has one that reads cleanly. */
  policy: { policy: CompliancePolicy; file: string } | undefined;
  /** The platform's SecretStore documents that read cleanly. */
  stores: SecretStoreDocument[];
  /** Projects and the platform's provider instances. */
  projects: PlatformProjects;
  /** The PromotionPolicy and the pins. */
  promotions: PlatformPromotions;
  /** The NotificationSink documents that read cleanly. */
  sinks: PlacedSink[];
  /** The ProviderPlugin documents that read cleanly (loaded by ProviderPlugins). */
  plugins: PluginDeclaration[];
  /** Stack documents that could not be read, each with file:line. */
  problems: PlumbError[];
}

/**
 * Reads every Stack document under `directory`, and makes the stacks of every
 * StackSet (directory patterns start at `root`, the repository's root; other
 * repositories are read with `readRepository`, which only the agent gives);
 * other documents are left for later stages.
 */
export async function scanPlatform(directory: string, root = directory, readRepository?: RepositoryReader): Promise<PlatformScan> {
  const stacks = new Map<string, PlatformStack>();
  const problems: PlumbError[] = [];
  let policy: PlatformScan["policy"];
  const stores: SecretStoreDocument[] = [];
  const projects = emptyProjects();
  const promotions = emptyPromotions();
  const sinks: PlacedSink[] = [];
  const plugins: PluginDeclaration[] = [];
  const stackSets: ParsedDocument[] = [];
  let files;
  try {
    files = await readYamlFiles(directory);
  } catch (error) {
    if (error instanceof PlumbErrorList) return { stacks, policy, stores, projects, promotions, sinks, plugins, problems: [...error.errors] };
    if (error instanceof PlumbError) return { stacks, policy, stores, projects, promotions, sinks, plugins, problems: [error] };
    throw error;
  }
  for (const file of files) {
    let documents;
    try {
      documents = parseYamlDocuments(file.relativePath, file.text);
    } catch (error) {
      if (error instanceof PlumbError) problems.push(error);
      else if (error instanceof PlumbErrorList) problems.push(...error.errors);
      else throw error;
      continue;
    }
    for (const document of documents) {
      const value = document.value;
      if (isPlainObject(value) && value.apiVersion === stackApiVersion && value.kind === compliancePolicyKind) {
        const schemaProblems = checkAgainstSchema(compliancePolicySchema, value);
        const policyProblems = schemaProblems.length > 0 ? schemaProblems : checkRuleExpressions(value as unknown as CompliancePolicy);
        for (const problem of policyProblems)
          problems.push(
            new PlumbError("PLUMB_POLICY_INVALID", `${formatFieldPath(problem.path)}: ${problem.message}`, {
              location: document.locate(problem.path),
              ...(problem.hint === undefined ? {} : { hint: problem.hint }),
            }),
          );
        if (policy !== undefined)
          problems.push(
            new PlumbError("PLUMB_POLICY_INVALID", `a second CompliancePolicy; the first is in ${policy.file}`, {
              location: document.position,
              hint: "keep one CompliancePolicy in the platform repository",
            }),
          );
        else if (policyProblems.length === 0) policy = { policy: value as unknown as CompliancePolicy, file: document.position.file };
        continue;
      }
      if (isPlainObject(value) && value.apiVersion === stackApiVersion && value.kind === secretStoreKind) {
        const storeProblems = checkSecretStoreDocument(value);
        for (const problem of storeProblems)
          problems.push(
            new PlumbError("PLUMB_SECRET_STORE", `${formatFieldPath(problem.path)}: ${problem.message}`, {
              location: document.locate(problem.path),
              ...(problem.hint === undefined ? {} : { hint: problem.hint }),
            }),
          );
        const store = value as unknown as SecretStoreDocument;
        if (storeProblems.length > 0) continue;
        if (stores.some((other) => other.metadata.name === store.metadata.name))
          problems.push(new PlumbError("PLUMB_SECRET_STORE", `secret store ${store.metadata.name} is declared twice`, { location: document.position }));
        else if (store.spec.default === true && stores.some((other) => other.spec.default === true))
          problems.push(
            new PlumbError("PLUMB_SECRET_STORE", `two secret stores are marked default`, {
              location: document.locate(["spec", "default"]),
              hint: "mark one SecretStore default: true",
            }),
          );
        else stores.push(store);
        continue;
      }
      if (isPlainObject(value) && value.apiVersion === stackApiVersion && readProjectDocument(document, value.kind, projects, problems)) continue;
      if (isPlainObject(value) && value.apiVersion === stackApiVersion && readPromotionDocument(document, value.kind, promotions, problems)) continue;
      if (isPlainObject(value) && value.apiVersion === stackApiVersion && readNotificationSink(document, value.kind, sinks, problems)) continue;
      if (isPlainObject(value) && value.apiVersion === stackApiVersion && readProviderPlugin(document, value.kind, plugins, problems)) continue;
      if (isPlainObject(value) && value.apiVersion === stackApiVersion && value.kind === stackSetKind) {
        stackSets.push(document);
        continue;
      }
      if (!isPlainObject(value) || value.apiVersion !== stackApiVersion || value.kind !== stackKind) continue;
      const schemaProblems = checkAgainstSchema(stackDocumentSchema, value);
      if (schemaProblems.length > 0) {
        for (const problem of schemaProblems) {
          problems.push(
            new PlumbError("PLUMB_STACK_DEFINITION", `${formatFieldPath(problem.path)}: ${problem.message}`, {
              location: document.locate(problem.path),
              ...(problem.hint === undefined ? {} : { hint: problem.hint }),
            }),
          );
        }
        continue;
      }
      const stackDocument = value as unknown as StackDocument;
      const name = stackDocument.metadata.name;
      const existing = stacks.get(name);
      if (existing !== undefined) {
        problems.push(
          new PlumbError("PLUMB_STACK_DEFINITION", `stack ${name} is defined twice; the first is at ${existing.file}:${existing.line}`, {
            location: { ...document.position, stack: name },
            hint: "stack names must be unique in the platform repository",
          }),
        );
        continue;
      }
      stacks.set(name, { name, document: stackDocument, file: document.position.file, line: document.position.line });
    }
  }
  await addGeneratedStacks(stackSets, root, stacks, problems, readRepository);
  applyPins(stacks, promotions.pins, problems);
  return { stacks, policy, stores, projects, promotions, sinks, plugins, problems };
}

/** The stacks of the StackSets, after the written ones: a name taken twice is a problem, and the first keeps it. */
async function addGeneratedStacks(
  stackSets: readonly ParsedDocument[],
  root: string,
  stacks: Map<string, PlatformStack>,
  problems: PlumbError[],
  readRepository: RepositoryReader | undefined,
): Promise<void> {
  const setNames = new Map<string, string>();
  for (const document of stackSets) {
    const setName = isPlainObject(document.value) && isPlainObject(document.value.metadata) ? String(document.value.metadata.name) : "";
    const first = setNames.get(setName);
    if (first !== undefined) {
      problems.push(
        new PlumbError("PLUMB_STACKSET", `StackSet ${setName} is defined twice; the first is at ${first}`, {
          location: document.position,
          hint: "StackSet names must be unique in the platform repository",
        }),
      );
      continue;
    }
    setNames.set(setName, `${document.position.file}:${document.position.line}`);
    const generated = await generateStacks(document, root, readRepository);
    problems.push(...generated.problems);
    for (const stack of generated.stacks) {
      const existing = stacks.get(stack.name);
      if (existing !== undefined) {
        problems.push(
          new PlumbError(
            "PLUMB_STACKSET",
            `StackSet ${setName} makes stack ${stack.name}, which ${existing.stackSet === undefined ? "a Stack document" : `StackSet ${existing.stackSet}`} at ${existing.file}:${existing.line} defines already`,
            {
              location: { ...document.locate(["spec", "template", "metadata", "name"]), stack: stack.name },
              hint: "stack names must be unique in the platform repository",
            },
          ),
        );
        continue;
      }
      stacks.set(stack.name, { name: stack.name, document: stack.document, file: document.position.file, line: document.position.line, stackSet: setName });
    }
  }
}

/** Where a stack's files come from: a git repository, or a local directory (the demo, tests). */
export type StackOrigin = { kind: "git"; source: GitSource; path: string } | { kind: "local"; directory: string };

/**
 * The platform's own origin, which stacks without `source.repo` share: Stack
 * documents are read below `path`; stack paths are relative to the root.
 */
export type PlatformOrigin = { kind: "git"; source: GitSource; path: string } | { kind: "local"; root: string; path: string };

function checkRelativePath(relative: string, where: string): string {
  const normalized = path.posix.normalize(relative.replace(/\\/g, "/"));
  if (path.posix.isAbsolute(normalized) || normalized === ".." || normalized.startsWith("../")) {
    throw new PlumbError("PLUMB_PATH_ESCAPE", `${where}: source.path "${relative}" leaves the repository`, {
      hint: "give a path inside the repository, relative to its root",
    });
  }
  return normalized;
}

/** The agent's ssh key and known_hosts, used for every ssh repository URL. */
export interface SshSettings {
  sshKeyFile?: string;
  knownHostsFile?: string;
}

export function isSshUrl(url: string): boolean {
  return url.startsWith("ssh://") || /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:/.test(url);
}

/** Turns a Stack's `source` into where to read it from; secrets for tokens are resolved here, in the agent only. */
export async function stackOrigin(stack: PlatformStack, platform: PlatformOrigin, secrets: SecretResolver, ssh: SshSettings = {}): Promise<StackOrigin> {
  const where = `${stack.file}:${stack.line} (stack ${stack.name})`;
  const source = stack.document.spec?.source ?? {};
  const relative = checkRelativePath(source.path ?? ".", where);
  if (source.repo === undefined) {
    // A ref on a stack of the platform repository (a Pin writes one) reads the platform's files at that ref.
    if (platform.kind === "local") {
      if (source.ref !== undefined)
        throw new PlumbError("PLUMB_STACK_DEFINITION", `${where}: source.ref needs a git platform repository; this agent reads a local directory`, {
          hint: "point --platform at the git repository, or remove the ref (or the Pin)",
        });
      return { kind: "local", directory: path.join(platform.root, relative) };
    }
    return { kind: "git", source: source.ref === undefined ? platform.source : { ...platform.source, ref: parseRef(source.ref, where) }, path: relative };
  }
  const gitSource: GitSource = { url: validateRepositoryUrl(source.repo, where), ref: parseRef(source.ref, where) };
  if (source.secretRef !== undefined) gitSource.credentials = { token: await secrets.resolve(source.secretRef) };
  if (isSshUrl(gitSource.url)) gitSource.credentials = { ...gitSource.credentials, ...ssh };
  if (source.verify !== undefined) gitSource.verify = source.verify;
  return { kind: "git", source: gitSource, path: relative };
}
