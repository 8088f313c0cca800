// StackSets: one Stack template, many stacks. Generators give parameter sets —
// a list, the directories of the platform repository (or another one) that match a pattern, a
// matrix of two generators, a merge of several on keys — and each set fills the
// template (template.ts) into a Stack document, checked like a written one.
// Generated stacks carry their StackSet as owner; what happens to a stack that
// leaves the output is the StackSet's prune policy.

import { readdir } from "node:fs/promises";
import path from "node:path";
import { Type, type Static, type TSchema } from "@sinclair/typebox";
import { PlumbError } from "../errors.js";
import { fillTemplate, TemplateError, type TemplateValue } from "../render/template.js";
import type { ParsedDocument } from "../render/yaml-documents.js";
import { checkAgainstSchema, formatFieldPath } from "../schema-check.js";
import { redactUrl } from "../source/git.js";
import { stackApiVersion, stackDocumentSchema, stackKind, stackNamePattern, type StackDocument } from "../stack-definition.js";

export const stackSetKind = "StackSet";
/** The label every generated stack carries, naming its StackSet. */
export const stackSetLabel = "plumb.dev/stackset";
/** More parameter sets than this from one StackSet is a mistake (a matrix of two large lists), not a fleet. */
export const maxGeneratedStacks = 10_000;

const parameterMap = Type.Record(Type.String({ pattern: "^[A-Za-z_][A-Za-z0-9_-]*$" }), Type.Unknown());
const directoryPattern = Type.Union([
  Type.String({ minLength: 1, description: "A directory pattern relative to the repository root; * matches within one path segment." }),
  Type.Object(
    { path: Type.String({ minLength: 1 }), exclude: Type.Optional(Type.Boolean({ description: "Leave out the directories this pattern matches." })) },
    { additionalProperties: false },
  ),
]);

const generatorSchema = Type.Recursive((generator) =>
  Type.Union([
    Type.Object(
      { list: Type.Object({ elements: Type.Array(parameterMap, { maxItems: maxGeneratedStacks }) }, { additionalProperties: false }) },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        git: Type.Object(
          {
            repo: Type.Optional(
              Type.String({ minLength: 1, description: "Another git repository to read the directories of; default the platform repository." }),
            ),
            ref: Type.Optional(Type.String({ minLength: 1, description: "With repo: its branch, tag or commit; default main." })),
            directories: Type.Array(directoryPattern, {
              minItems: 1,
              description: "Directories of the repository, one parameter set each (.path.path, .path.basename, .path.basenameNormalized).",
            }),
          },
          { additionalProperties: false },
        ),
      },
      { additionalProperties: false },
    ),
    Type.Object(
      { matrix: Type.Object({ generators: Type.Array(generator, { minItems: 2, maxItems: 2 }) }, { additionalProperties: false }) },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        merge: Type.Object(
          {
            mergeKeys: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: "Parameters (dotted paths) that say which sets are the same." }),
            generators: Type.Array(generator, { minItems: 2, description: "The first gives the sets; each later one overrides the sets it matches." }),
          },
          { additionalProperties: false },
        ),
      },
      { additionalProperties: false },
    ),
  ]),
);

export const stackSetSchema = Type.Object({
  apiVersion: Type.Literal(stackApiVersion),
  kind: Type.Literal(stackSetKind),
  metadata: Type.Object({ name: Type.String({ pattern: stackNamePattern }), labels: Type.Optional(Type.Record(Type.String(), Type.String())) }),
  spec: Type.Object(
    {
      generators: Type.Array(generatorSchema, { minItems: 1, description: "Each generator's parameter sets; all of them together make the stacks." }),
      template: Type.Object(
        {
          metadata: Type.Object(
            { name: Type.String({ minLength: 1 }), labels: Type.Optional(Type.Record(Type.String(), Type.String())) },
            { additionalProperties: false },
          ),
          spec: Type.Record(Type.String(), Type.Unknown()),
        },
        { additionalProperties: false },
      ),
      prune: Type.Optional(
        Type.Boolean({
          description: "A stack that leaves the generators' output has its resources deleted (true) or left in place, no longer managed (false, the default).",
        }),
      ),
    },
    { additionalProperties: false },
  ),
});

export type StackSetDocument = Static<typeof stackSetSchema>;
type Generator = Record<string, unknown>;
type Parameters = Record<string, TemplateValue>;

export interface GeneratedStack {
  name: string;
  document: StackDocument;
}

class GeneratorError extends Error {
  constructor(
    message: string,
    readonly at: (string | number)[],
    readonly hint?: string,
  ) {
    super(message);
  }
}

function segmentPattern(segment: string): RegExp {
  const escaped = segment
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, "[^/]*")
    .replace(/\?/g, "[^/]");
  return new RegExp(`^${escaped}$`);
}

/** Real directories under `root` matching `pattern` (no symbolic links, no hidden folders), as repository-relative paths. */
async function matchDirectories(root: string, pattern: string, at: (string | number)[]): Promise<string[]> {
  const normalized = path.posix.normalize(pattern.replace(/\\/g, "/")).replace(/\/+$/, "");
  if (path.posix.isAbsolute(normalized) || normalized === ".." || normalized.startsWith("../") || normalized === ".")
    throw new GeneratorError(`directory pattern "${pattern}" is not inside the repository`, at, "give a path relative to the repository root, e.g. teams/*");
  let found = [""];
  for (const segment of normalized.split("/")) {
    const matcher = segmentPattern(segment);
    const next: string[] = [];
    for (const directory of found) {
      let entries;
      try {
        entries = await readdir(path.join(root, directory), { withFileTypes: true });
      } catch {
        continue;
      }
      for (const entry of entries)
        if (entry.isDirectory() && !entry.name.startsWith(".") && matcher.test(entry.name))
          next.push(directory === "" ? entry.name : `${directory}/${entry.name}`);
    }
    found = next;
  }
  return found.sort();
}

function normalizeName(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
}

function valueAt(parameters: Parameters, dotted: string): TemplateValue | undefined {
  let value: TemplateValue | undefined = parameters;
  for (const key of dotted.split(".")) {
    if (value === null || typeof value !== "object" || Array.isArray(value) || !Object.hasOwn(value, key)) return undefined;
    value = value[key];
  }
  return value;
}

/** Checks out another repository's `ref` and gives the directory; the agent reads it through its git mirrors. */
export type RepositoryReader = (url: string, ref: string, where: string) => Promise<string>;

interface GenerateContext {
  /** The platform repository's root, where directory patterns start. */
  root: string;
  readRepository: RepositoryReader | undefined;
  /** "file:line (StackSet name)", for messages about reading another repository. */
  where: string;
}

async function generate(generator: Generator, context: GenerateContext, at: (string | number)[]): Promise<Parameters[]> {
  if ("list" in generator) return (generator.list as { elements: Parameters[] }).elements;
  if ("git" in generator) {
    const git = generator.git as { repo?: string; ref?: string; directories: (string | { path: string; exclude?: boolean })[] };
    const patterns = git.directories;
    let root = context.root;
    if (git.repo !== undefined) {
      if (context.readRepository === undefined)
        throw new GeneratorError(
          `reads the directories of ${redactUrl(git.repo)}, which only the agent reads`,
          [...at, "git", "repo"],
          "run the agent to see these stacks; plan and validate leave them out",
        );
      try {
        root = await context.readRepository(git.repo, git.ref ?? "main", context.where);
      } catch (error) {
        throw new GeneratorError(
          `cannot read ${redactUrl(git.repo)}: ${error instanceof PlumbError ? error.message : String(error)}`,
          [...at, "git", "repo"],
          "check the address, the ref and the agent's access to it; its stacks are kept meanwhile",
        );
      }
    }
    const included = new Set<string>();
    const excluded = new Set<string>();
    for (const [index, pattern] of patterns.entries()) {
      const { path: text, exclude } = typeof pattern === "string" ? { path: pattern, exclude: false } : pattern;
      for (const directory of await matchDirectories(root, text, [...at, "git", "directories", index])) (exclude === true ? excluded : included).add(directory);
    }
    return [...included]
      .filter((directory) => !excluded.has(directory))
      .sort()
      .map((directory) => {
        const basename = path.posix.basename(directory);
        return { path: { path: directory, basename, basenameNormalized: normalizeName(basename), segments: directory.split("/") } };
      });
  }
  if ("matrix" in generator) {
    const [first = [], second = []] = await Promise.all(
      (generator.matrix as { generators: Generator[] }).generators.map((inner, index) => generate(inner, context, [...at, "matrix", "generators", index])),
    );
    if (first.length * second.length > maxGeneratedStacks)
      throw new GeneratorError(`the matrix makes ${first.length} × ${second.length} parameter sets, more than ${maxGeneratedStacks}`, at, "split the StackSet");
    const product: Parameters[] = [];
    for (const left of first)
      for (const right of second) {
        const clash = Object.keys(right).find((key) => Object.hasOwn(left, key) && JSON.stringify(left[key]) !== JSON.stringify(right[key]));
        if (clash !== undefined)
          throw new GeneratorError(
            `both generators of the matrix give "${clash}", with different values`,
            [...at, "matrix"],
            "rename the parameter in one of them",
          );
        product.push({ ...left, ...right });
      }
    return product;
  }
  const merge = generator.merge as { mergeKeys: string[]; generators: Generator[] };
  const [base = [], ...overrides] = await Promise.all(merge.generators.map((inner, index) => generate(inner, context, [...at, "merge", "generators", index])));
  const keyOf = (parameters: Parameters) => JSON.stringify(merge.mergeKeys.map((key) => valueAt(parameters, key) ?? null));
  const merged = base.map((parameters) => ({ ...parameters }));
  for (const sets of overrides)
    for (const override of sets) {
      const key = keyOf(override);
      for (const [index, parameters] of merged.entries()) if (keyOf(parameters) === key) merged[index] = { ...parameters, ...override };
    }
  return merged;
}

/**
 * The stacks `set` makes, each a Stack document checked against the Stack
 * schema; a problem names the StackSet, the field and the generated stack.
 * `root` is the platform repository's root, where directory patterns start;
 * `readRepository` reads the other repositories git generators name.
 */
export async function generateStacks(
  document: ParsedDocument,
  root: string,
  readRepository?: RepositoryReader,
): Promise<{ stacks: GeneratedStack[]; problems: PlumbError[] }> {
  const value = document.value;
  const schemaProblems = checkAgainstSchema(stackSetSchema as TSchema, value);
  if (schemaProblems.length > 0)
    return {
      stacks: [],
      problems: schemaProblems.map(
        (problem) =>
          new PlumbError("PLUMB_STACKSET", `${formatFieldPath(problem.path)}: ${problem.message}`, {
            location: document.locate(problem.path),
            ...(problem.hint === undefined ? {} : { hint: problem.hint }),
          }),
      ),
    };
  const set = value as StackSetDocument;
  const setName = set.metadata.name;
  const parameterSets: Parameters[] = [];
  try {
    for (const [index, generator] of set.spec.generators.entries())
      parameterSets.push(
        ...(await generate(
          generator as Generator,
          { root, readRepository, where: `${document.position.file}:${document.position.line} (StackSet ${setName})` },
          ["spec", "generators", index],
        )),
      );
  } catch (error) {
    if (!(error instanceof GeneratorError)) throw error;
    return {
      stacks: [],
      problems: [
        new PlumbError("PLUMB_STACKSET", `StackSet ${setName}: ${error.message}`, {
          location: document.locate(error.at),
          ...(error.hint === undefined ? {} : { hint: error.hint }),
        }),
      ],
    };
  }
  if (parameterSets.length > maxGeneratedStacks) {
    return {
      stacks: [],
      problems: [
        new PlumbError("PLUMB_STACKSET", `StackSet ${setName} makes more than ${maxGeneratedStacks} stacks`, {
          location: document.locate(["spec", "generators"]),
          hint: "split it into several StackSets",
        }),
      ],
    };
  }
  const stacks: GeneratedStack[] = [];
  const problems: PlumbError[] = [];
  const seen = new Map<string, number>();
  for (const [index, parameters] of parameterSets.entries()) {
    let filled: { metadata: { name: string; labels?: Record<string, string> }; spec: Record<string, unknown> };
    try {
      filled = fillTemplate(set.spec.template as unknown as TemplateValue, parameters, ["spec", "template"]) as typeof filled;
    } catch (error) {
      if (!(error instanceof TemplateError)) throw error;
      problems.push(
        new PlumbError("PLUMB_STACKSET", `StackSet ${setName}, ${formatFieldPath(error.at)}: ${error.message}`, {
          location: document.locate(error.at),
          hint: `parameter set ${index + 1} is ${JSON.stringify(parameters).slice(0, 200)}`,
        }),
      );
      // One message per field is enough: the same template fails the same way for every set.
      break;
    }
    const stack = {
      apiVersion: stackApiVersion,
      kind: stackKind,
      metadata: { ...filled.metadata, labels: { ...filled.metadata.labels, [stackSetLabel]: setName } },
      spec: { ...filled.spec, deletionPolicy: set.spec.prune === true ? "Delete" : "Orphan" },
    };
    const name = String(stack.metadata.name);
    const stackProblems = checkAgainstSchema(stackDocumentSchema, stack);
    if (stackProblems.length > 0) {
      for (const problem of stackProblems.slice(0, 3))
        problems.push(
          new PlumbError("PLUMB_STACKSET", `StackSet ${setName} makes stack "${name}" with ${formatFieldPath(problem.path)}: ${problem.message}`, {
            location: document.locate(["spec", "template", ...problem.path]),
            ...(problem.hint === undefined ? {} : { hint: problem.hint }),
          }),
        );
      continue;
    }
    const earlier = seen.get(name);
    if (earlier !== undefined) {
      problems.push(
        new PlumbError("PLUMB_STACKSET", `StackSet ${setName} makes stack "${name}" twice (parameter sets ${earlier + 1} and ${index + 1})`, {
          location: document.locate(["spec", "template", "metadata", "name"]),
          hint: "put a parameter that tells them apart into the template's metadata.name",
        }),
      );
      continue;
    }
    seen.set(name, index);
    stacks.push({ name, document: stack as unknown as StackDocument });
  }
  return { stacks, problems };
}
