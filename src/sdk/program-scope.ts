// Where resources declared by a program or a composite's compose go while it
// runs. The sandbox runner opens a scope around each call; the SDK's
// constructors add to the open one.

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
    throw new Error(`${declaration.kind} "${declaration.name}" was declared outside a program or a composite's compose function; declare resources while Plumb runs your code`);
  }
  open.push(declaration);
}

const sdkFrame = /[/\\]src[/\\]sdk[/\\]program(-scope)?\.ts:/;
const framePosition = /\(?((?:[A-Za-z]:)?[^():]+):(\d+):(\d+)\)?$/;

/** The first stack frame outside the SDK: the line of user code that declared a resource. */
export function callerSite(): SourceSite | null {
  const stack = new Error().stack ?? "";
  for (const line of stack.split("\n").slice(1)) {
    if (sdkFrame.test(line) || line.includes("node:internal")) continue;
    const match = framePosition.exec(line.trim());
    if (match === null) continue;
    return { file: match[1] as string, line: Number(match[2]), column: Number(match[3]) };
  }
  return null;
}
