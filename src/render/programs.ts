// The program and composite part of render: runs a stack's main.ts and
// expands composite claims (from YAML or from the program) in the sandbox, and
// turns what comes back into documents the YAML path checks the same way,
// positioned at the line of TypeScript that declared each resource.

import { existsSync } from "node:fs";
import path from "node:path";
import { PlumbError } from "../errors.js";
import type { JsonObject, SourcePosition } from "../sdk/resource.js";
import type { StackContext } from "../sdk/program.js";
import type { PlatformLibrary } from "./platform-library.js";
import { runInSandbox, siteLocation, type SandboxLimits, type SandboxRoot } from "./sandbox.js";
import { pathDisplay } from "./sandbox-bundle.js";
import type { EmittedResource, InputClaim, RuleViolation } from "./sandbox-protocol.js";
import type { ResourceView } from "../sdk/program.js";
import { formatFieldPath } from "../schema-check.js";
import type { ParsedDocument } from "./yaml-documents.js";
import type { RenderedClaim } from "../stack-model.js";

export const programFile = "main.ts";
/** How deep composites may nest (a claim composing a claim composing …). */
const maxCompositeDepth = 8;

/** A claim found in YAML, with the document it came from. */
export interface YamlClaim {
  claim: Omit<InputClaim, "input">;
  document: ParsedDocument;
}

export interface ExpandedResource {
  value: EmittedResource;
  document: ParsedDocument;
}

export interface Expansion {
  resources: ExpandedResource[];
  claims: RenderedClaim[];
  errors: PlumbError[];
  /** What the platform's TypeScript policy rules found. */
  violations: RuleViolation[];
}

export function hasProgram(directory: string): boolean {
  return existsSync(path.join(directory, programFile));
}

/** A document for something declared in TypeScript: every field is located at the declaring line. */
function declaredDocument(position: SourcePosition, index: number, value: unknown): ParsedDocument {
  return { file: position.file, index, value, position, locate: () => position, line: position.line };
}

export async function expandProgramAndClaims(options: {
  directory: string;
  program: boolean;
  claims: YamlClaim[];
  /** The stack's YAML resources, for the policy rules. */
  resources: ResourceView[];
  platform: PlatformLibrary | undefined;
  context: StackContext;
  limits: SandboxLimits;
}): Promise<Expansion> {
  const stackRoot: SandboxRoot = { directory: options.directory, display: "" };
  const show = pathDisplay([stackRoot, options.platform?.root]);
  const answer = await runInSandbox({
    stack: stackRoot,
    ...(options.program ? { program: path.join(path.resolve(options.directory), programFile) } : {}),
    ...(options.platform === undefined ? {} : { platformRoot: options.platform.root }),
    platformFiles: options.platform?.files ?? [],
    request: {
      mode: "render",
      context: options.context,
      program: options.program,
      claims: options.claims.map(({ claim }, input) => ({ ...claim, input })),
      resources: (options.platform?.rules.length ?? 0) > 0 ? options.resources : [],
      maxDepth: maxCompositeDepth,
    },
    limits: options.limits,
    subject: options.program ? `program ${programFile}` : options.claims.length > 0 ? "composite expansion" : "the platform's policy rules",
  });

  // A YAML claim's position needs the slow positioned parse, so it is only looked up for messages.
  const yamlClaimOf = (value: { input: number | null }) => (value.input === null ? undefined : (options.claims[value.input] as YamlClaim));
  const declaredAt = new Map<string, SourcePosition>();
  const positionOf = (value: EmittedResource): SourcePosition => {
    if (value.site !== null) return siteLocation(value.site, show);
    const claim =
      yamlClaimOf(value) ??
      (value.composite === null ? undefined : yamlClaimOf(answer.claims.find((item) => item.address === value.composite) ?? { input: null }));
    return claim?.document.position ?? (value.composite === null ? undefined : declaredAt.get(value.composite)) ?? { file: programFile, line: 1, column: 1 };
  };
  const claims: RenderedClaim[] = [];
  const byAddress = new Map<string, RenderedClaim>();
  for (const claim of answer.claims) {
    const yamlClaim = yamlClaimOf(claim);
    let origin: RenderedClaim["origin"];
    if (yamlClaim !== undefined) {
      origin = { file: yamlClaim.document.file, document: yamlClaim.document.index, line: yamlClaim.document.position.line };
    } else {
      const position = positionOf(claim);
      declaredAt.set(claim.address, position);
      origin = { file: position.file, line: position.line };
    }
    const rendered: RenderedClaim = {
      address: claim.address,
      apiVersion: claim.apiVersion,
      kind: claim.kind,
      name: claim.metadata.name,
      spec: (claim.spec ?? {}) as JsonObject,
      composite: claim.composite,
      children: [],
      origin,
    };
    claims.push(rendered);
    byAddress.set(claim.address, rendered);
  }
  for (const claim of claims) if (claim.composite !== null) byAddress.get(claim.composite)?.children.push(claim.address);

  const errors = answer.problems.map((problem) => {
    const location =
      problem.input !== null
        ? (options.claims[problem.input] as YamlClaim).document.locate(["spec", ...problem.path])
        : problem.site !== null
          ? siteLocation(problem.site, show)
          : (declaredAt.get(problem.claim) ?? { file: programFile, line: 1, column: 1 });
    return new PlumbError("PLUMB_CLAIM", `${formatFieldPath(["spec", ...problem.path])}: ${problem.message}`, {
      location: { ...location, resource: problem.claim },
      ...(problem.hint === undefined ? {} : { hint: problem.hint }),
    });
  });

  const resources = answer.resources.map((value, index) => {
    if (value.composite !== null) byAddress.get(value.composite)?.children.push(`${value.apiVersion}/${value.kind}/${value.metadata.name}`);
    return { value, document: declaredDocument(positionOf(value), index, value) };
  });
  return { resources, claims, errors, violations: answer.violations };
}
