// The platform repository's Project and ProviderInstance documents, read
// with the Stack documents: checked against their schemas, each name once.
// A broken one is a platform problem; while projects are declared, a stack
// whose project is missing or broken is refused rather than left unfenced.

import { PlumbError } from "../errors.js";
import {
  projectDocumentSchema,
  projectKind,
  providerInstanceDocumentSchema,
  providerInstanceKind,
  type Project,
  type ProjectDocument,
  type ProviderCatalog,
  type ProviderInstanceDocument,
} from "../project-definition.js";
import type { ParsedDocument } from "../render/yaml-documents.js";
import { checkAgainstSchema, formatFieldPath } from "../schema-check.js";

export interface PlatformProjects {
  projects: Map<string, Project>;
  /** Names of Project documents that could not be read: their stacks are refused, never unfenced. */
  broken: Set<string>;
  providers: ProviderCatalog;
}

export function emptyProjects(): PlatformProjects {
  return { projects: new Map(), broken: new Set(), providers: new Map() };
}

/** Takes the document when it is a Project or a ProviderInstance; false for any other kind. */
export function readProjectDocument(document: ParsedDocument, kind: unknown, into: PlatformProjects, problems: PlumbError[]): boolean {
  if (kind !== projectKind && kind !== providerInstanceKind) return false;
  const schema = kind === projectKind ? projectDocumentSchema : providerInstanceDocumentSchema;
  const code = kind === projectKind ? "PLUMB_STACK_DEFINITION" : "PLUMB_PROVIDER_CONFIG";
  const schemaProblems = checkAgainstSchema(schema, document.value);
  for (const problem of schemaProblems)
    problems.push(
      new PlumbError(code, `${kind}: ${formatFieldPath(problem.path)}: ${problem.message}`, {
        location: document.locate(problem.path),
        ...(problem.hint === undefined ? {} : { hint: problem.hint }),
      }),
    );
  const name = (document.value as { metadata?: { name?: unknown } }).metadata?.name;
  if (schemaProblems.length > 0) {
    if (kind === projectKind && typeof name === "string") into.broken.add(name);
    return true;
  }
  if (kind === projectKind) {
    const project = document.value as unknown as ProjectDocument;
    if (into.projects.has(project.metadata.name))
      problems.push(new PlumbError(code, `project ${project.metadata.name} is declared twice`, { location: document.position }));
    else into.projects.set(project.metadata.name, { ...project.spec, name: project.metadata.name });
    return true;
  }
  const instance = document.value as unknown as ProviderInstanceDocument;
  if (into.providers.has(instance.metadata.name))
    problems.push(new PlumbError(code, `provider instance ${instance.metadata.name} is declared twice`, { location: document.position }));
  else into.providers.set(instance.metadata.name, { type: instance.spec.type, config: instance.spec.config ?? {}, file: document.position.file });
  return true;
}

/**
 * The project a platform stack belongs to: undefined when the platform
 * declares none (no fences), else its Project, or an error that refuses it.
 */
export function projectOf(projects: PlatformProjects, stack: { name: string; file: string; line: number; project: string | undefined }): Project | undefined {
  if (projects.projects.size === 0 && projects.broken.size === 0) return undefined;
  const name = stack.project ?? "default";
  const project = projects.projects.get(name);
  if (project !== undefined) return project;
  throw new PlumbError(
    "PLUMB_PROJECT_DENIED",
    projects.broken.has(name)
      ? `stack ${stack.name} belongs to project ${name}, whose Project document has problems; it is not applied until the project reads cleanly`
      : `stack ${stack.name} ${stack.project === undefined ? "names no project and the platform declares no project named default" : `names project ${name}, which the platform does not declare`}`,
    {
      location: { file: stack.file, line: stack.line, column: 1, stack: stack.name },
      hint: "set spec.project in the platform's Stack document to one of its Project documents",
    },
  );
}
