// Where resources declared by a program or a composite's compose go while it
// runs. The sandbox runner opens a scope around each call; the SDK's
// constructors add to the open one.

import { findSourceMap } from "node:module";

export interface SourceSite {
  file: string;
  line: number;
  column: number;
}

/** What one `new …(…)` in user code declared, before it is serialised. */
export interface Declaration {
  apiVersion: string;
  kind: string;
  name: string;
  spec: unknown;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  site: SourceSite | null;
}

let open: Declaration[] | undefined;

export function collect<T>(run: () => T): { result: T; declared: Declaration[] } {
  const outer = open;
  const declared: Declaration[] = [];
  open = declared;
  try {
    return { result: run(), declared };
  } finally {
    open = outer;
  }
}

export async function collectAsync<T>(run: () => Promise<T>): Promise<{ result: T; declared: Declaration[] }> {
  const outer = open;
  const declared: Declaration[] = [];
  open = declared;
  try {
    return { result: await run(), declared };
  } finally {
    open = outer;
  }
}

export function declare(declaration: Declaration): void {
  if (open === undefined) {
    throw new Error(
      `${declaration.kind} "${declaration.name}" was declared outside a program or a composite's compose function; declare resources while Plumb runs your code`,
    );
  }
  open.push(declaration);
}

/**
 * The structured call sites above `below`. The stack is read before the
 * previous formatter is put back, because V8 formats it lazily on first read.
 */
export function captureCallSites(below: (...args: never[]) => unknown): NodeJS.CallSite[] {
  const previous = Error.prepareStackTrace;
  const holder: { stack?: unknown } = {};
  try {
    Error.prepareStackTrace = (_error, callSites) => callSites;
    Error.captureStackTrace(holder, below);
    return Array.isArray(holder.stack) ? (holder.stack as NodeJS.CallSite[]) : [];
  } finally {
    Error.prepareStackTrace = previous;
  }
}

const sdkFile = /[/\\]src[/\\]sdk[/\\][^/\\]+\.ts$/;
const mapped = new Map<string, SourceSite | null>();

/** A bundle position in the user's own file, through the bundle's source map; cached, as loops declare from one line. */
function originalPosition(file: string, line: number, column: number): SourceSite | null {
  const key = `${file}:${line}:${column}`;
  let site = mapped.get(key);
  if (site === undefined) {
    const entry = findSourceMap(file)?.findEntry(line - 1, column - 1);
    site =
      entry === undefined || !("originalSource" in entry)
        ? { file, line, column }
        : { file: entry.originalSource.replace(/^file:\/\//, ""), line: entry.originalLine + 1, column: entry.originalColumn + 1 };
    mapped.set(key, site);
  }
  return site;
}

/**
 * The first stack frame outside the SDK: the line of user code that declared a
 * resource. Reads structured call sites instead of formatting a stack, which
 * costs microseconds for the thousands of declarations a loop makes.
 */
export function callerSite(): SourceSite | null {
  for (const callSite of captureCallSites(callerSite)) {
    const file = callSite.getFileName();
    const line = callSite.getLineNumber();
    const column = callSite.getColumnNumber();
    if (file === undefined || file === null || line === null || column === null || file.startsWith("node:")) continue;
    const site = originalPosition(file, line, column);
    if (site !== null && !sdkFile.test(site.file)) return site;
  }
  return null;
}
