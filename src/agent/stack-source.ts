// The first two of the commit loop's sub-steps for one stack, shared by the
// loop itself and by a sync's dry run: fetch the source at its newest revision
// (or read the local folder), then render it under the stack's project.

import path from "node:path";
import { renderStack } from "../render/load-stack.js";
import { defaultSandboxLimits } from "../render/sandbox.js";
import type { RenderedStack } from "../stack-model.js";
import type { ManagedStack } from "./managed-stack.js";
import { projectOf } from "./platform-projects.js";
import { stackOrigin, type StackOrigin } from "./platform.js";
import type { StackContext } from "./stack-context.js";

export interface FetchedSource {
  directory: string;
  /** The commit checked out; null for a local folder. */
  revision: string | null;
  origin: StackOrigin;
}

export async function fetchStackSource(context: StackContext, managed: ManagedStack): Promise<FetchedSource> {
  const origin = await stackOrigin(managed.platform, context.origin, context.platform.secrets, context.ssh);
  managed.origin = origin;
  if (origin.kind === "local") return { directory: origin.directory, revision: null, origin };
  const source = origin.source;
  const { commit } = await context.mirrors.resolve(source);
  await context.mirrors.ensureCommit(source, commit);
  await context.mirrors.verifyCommit(source, commit);
  const checkout = await context.mirrors.checkout(source, commit);
  return { directory: path.join(checkout, origin.path), revision: commit, origin };
}

/** Renders the fetched folder as stack `name` (the platform's document wins over the folder's own). */
export async function renderStackSource(context: StackContext, name: string, managed: ManagedStack, directory: string): Promise<RenderedStack> {
  const platformStack = managed.platform;
  const platform = context.platform;
  const project = projectOf(platform.projects, {
    name,
    file: platformStack.file,
    line: platformStack.line,
    project: platformStack.document.spec?.project,
  });
  const rendered = await renderStack(directory, {
    ...(project === undefined ? {} : { project }),
    providerCatalog: platform.projects.providers,
    registry: context.registry,
    stackOverride: { document: platformStack.document, file: platformStack.file, line: platformStack.line },
    sandboxLimits: context.sandboxLimits ?? defaultSandboxLimits,
    fetchRemoteBase: (base) => context.mirrors.checkoutRef(base.repository, base.ref),
    ...(context.admission === undefined ? {} : { admission: context.admission }),
    ...(platform.library === undefined ? {} : { platform: platform.library.library }),
  });
  return rendered.definition.name === name ? rendered : { ...rendered, definition: { ...rendered.definition, name } };
}
