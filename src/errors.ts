// Every error Plumb reports on purpose: a stable code, a message that says what went
// wrong and where, a hint that says what to do, and how the caller should react.

/**
 * How the caller should react: retry later (transient), stop until the input
 * changes (terminal), or wait for something else to become ready (dependency).
 */
export type ErrorDisposition = "transient" | "terminal" | "dependency";

interface ErrorSpec {
  readonly disposition: ErrorDisposition;
  /** The HTTP status the API answers with when this error reaches a request. */
  readonly status: number;
}

const errorSpecs = {
  PLUMB_USAGE: { disposition: "terminal", status: 400 },
  /** Several input problems at once (a render, a plan): the message lists them. */
  PLUMB_INVALID: { disposition: "terminal", status: 400 },
  /** Something Plumb did not expect; the details are in its log, never in the answer. */
  PLUMB_INTERNAL: { disposition: "transient", status: 500 },
  PLUMB_FILE_READ: { disposition: "terminal", status: 400 },
  PLUMB_FILE_TOO_LARGE: { disposition: "terminal", status: 413 },
  PLUMB_MORE_PROBLEMS: { disposition: "terminal", status: 400 },
  PLUMB_PATH_ESCAPE: { disposition: "terminal", status: 400 },
  PLUMB_YAML_SYNTAX: { disposition: "terminal", status: 400 },
  PLUMB_YAML_ALIAS: { disposition: "terminal", status: 400 },
  PLUMB_RESOURCE_SHAPE: { disposition: "terminal", status: 400 },
  PLUMB_UNKNOWN_KIND: { disposition: "terminal", status: 400 },
  PLUMB_SCHEMA: { disposition: "terminal", status: 400 },
  PLUMB_DUPLICATE_ADDRESS: { disposition: "terminal", status: 409 },
  PLUMB_UNKNOWN_DEPENDENCY: { disposition: "terminal", status: 400 },
  PLUMB_DEPENDENCY_CYCLE: { disposition: "terminal", status: 400 },
  PLUMB_VALUES: { disposition: "terminal", status: 400 },
  PLUMB_PATCH: { disposition: "terminal", status: 400 },
  PLUMB_STACK_DEFINITION: { disposition: "terminal", status: 400 },
  /** A StackSet that cannot make its stacks: its schema, a generator, or its template. */
  PLUMB_STACKSET: { disposition: "terminal", status: 400 },
  /** A NotificationSink that cannot be used, or a message it could not take. */
  PLUMB_NOTIFICATION: { disposition: "terminal", status: 400 },
  /** A PromotionPolicy or Pin document that cannot be used. */
  PLUMB_PROMOTION: { disposition: "terminal", status: 400 },
  /** A promotion that the source's health or a PromotionPolicy rule refuses; the message names the rule. */
  PLUMB_PROMOTION_REFUSED: { disposition: "terminal", status: 409 },
  /** A sync of chosen resources that the stack's own policy would undo (automatic sync or self-heal on). */
  PLUMB_SELECTIVE_SYNC: { disposition: "terminal", status: 409 },
  /** A ProviderPlugin that cannot be loaded: its hash, its module, or the provider it gives. */
  PLUMB_PROVIDER_PLUGIN: { disposition: "terminal", status: 400 },
  PLUMB_PROVIDER_INSTANCE: { disposition: "terminal", status: 400 },
  PLUMB_PROVIDER_CONFIG: { disposition: "terminal", status: 400 },
  PLUMB_PROVIDER_OPERATION: { disposition: "terminal", status: 502 },
  PLUMB_PROVIDER_TRANSIENT: { disposition: "transient", status: 503 },
  PLUMB_SECRET_NOT_FOUND: { disposition: "terminal", status: 400 },
  PLUMB_SECRET_STORE: { disposition: "terminal", status: 400 },
  PLUMB_SECRET_STORE_UNAVAILABLE: { disposition: "transient", status: 503 },
  PLUMB_SECRET_DECRYPT: { disposition: "terminal", status: 400 },
  /** An existing object Plumb did not create, which the resource does not ask to adopt. */
  PLUMB_ADOPTION_REQUIRED: { disposition: "terminal", status: 409 },
  /** A forge (GitHub, GitLab, Gitea) refused or could not be reached. */
  PLUMB_FORGE: { disposition: "transient", status: 502 },
  PLUMB_DELETION_PROTECTED: { disposition: "terminal", status: 409 },
  PLUMB_DEPENDENCY_FAILED: { disposition: "dependency", status: 424 },
  PLUMB_STACK_LOCKED: { disposition: "transient", status: 423 },
  /** This agent's lease on a stack ran out or moved to another agent: it stops working on the stack and writes nothing more for it. */
  PLUMB_LEASE_LOST: { disposition: "terminal", status: 409 },
  PLUMB_STATE_NOT_FOUND: { disposition: "terminal", status: 404 },
  PLUMB_STORE: { disposition: "transient", status: 500 },
  PLUMB_STORE_CORRUPT: { disposition: "terminal", status: 500 },
  PLUMB_STORE_FULL: { disposition: "transient", status: 507 },
  PLUMB_DATA_DIR_LOCKED: { disposition: "terminal", status: 409 },
  PLUMB_SOURCE_INVALID: { disposition: "terminal", status: 400 },
  PLUMB_SOURCE_UNREACHABLE: { disposition: "transient", status: 502 },
  PLUMB_SOURCE_REF_NOT_FOUND: { disposition: "terminal", status: 404 },
  PLUMB_SOURCE_VERIFY: { disposition: "terminal", status: 400 },
  PLUMB_UNAUTHORIZED: { disposition: "terminal", status: 401 },
  PLUMB_FORBIDDEN: { disposition: "terminal", status: 403 },
  PLUMB_NOT_FOUND: { disposition: "terminal", status: 404 },
  PLUMB_POLICY_DENIED: { disposition: "terminal", status: 422 },
  PLUMB_PROJECT_DENIED: { disposition: "terminal", status: 403 },
  PLUMB_POLICY_INVALID: { disposition: "terminal", status: 400 },
  PLUMB_PROGRAM: { disposition: "terminal", status: 400 },
  PLUMB_PROGRAM_TYPE: { disposition: "terminal", status: 400 },
  PLUMB_PROGRAM_LIMIT: { disposition: "terminal", status: 400 },
  PLUMB_SANDBOX_UNAVAILABLE: { disposition: "terminal", status: 503 },
  /** A kustomization that cannot be built: Kustomize's own error, a remote base not allowed, a path out of the stack. */
  PLUMB_KUSTOMIZE: { disposition: "terminal", status: 400 },
  /** A sync hook (plumb.dev/hook) that failed or did not become healthy in time. */
  PLUMB_HOOK_FAILED: { disposition: "terminal", status: 409 },
  /** Kustomize is not installed where the agent runs. */
  PLUMB_KUSTOMIZE_UNAVAILABLE: { disposition: "terminal", status: 503 },
  PLUMB_COMPOSITE: { disposition: "terminal", status: 400 },
  PLUMB_CLAIM: { disposition: "terminal", status: 400 },
  PLUMB_REFERENCE: { disposition: "terminal", status: 400 },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof errorSpecs;

/** Where in the user's input the problem is. */
export interface ErrorLocation {
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  readonly stack?: string;
  readonly resource?: string;
}

export interface PlumbErrorOptions {
  readonly location?: ErrorLocation;
  readonly hint?: string;
  readonly cause?: unknown;
}

export class PlumbError extends Error {
  readonly code: ErrorCode;
  readonly location: ErrorLocation;
  readonly hint: string | undefined;
  readonly disposition: ErrorDisposition;
  readonly status: number;

  constructor(code: ErrorCode, message: string, options: PlumbErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "PlumbError";
    this.code = code;
    this.location = options.location ?? {};
    this.hint = options.hint;
    this.disposition = errorSpecs[code].disposition;
    this.status = errorSpecs[code].status;
  }

  /** "file:line:column" (or the part of it that is known), else the resource or stack. */
  where(): string | undefined {
    const { file, line, column, resource, stack } = this.location;
    if (file !== undefined) {
      let where = file;
      if (line !== undefined) where += `:${line}`;
      if (line !== undefined && column !== undefined) where += `:${column}`;
      return resource === undefined ? where : `${where} (${resource})`;
    }
    if (resource !== undefined) return stack === undefined ? resource : `${stack}: ${resource}`;
    return stack;
  }

  /** One human-readable block: where, what, and what to do. */
  describe(): string {
    const where = this.where();
    const head = `${where === undefined ? "" : `${where}: `}${this.message} [${this.code}]`;
    return this.hint === undefined ? head : `${head}\n  hint: ${this.hint}`;
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, location: this.location, hint: this.hint };
  }
}

/** A report holds at most this many problems; the rest are counted, so one mistake repeated never floods a log. */
export const maxReportedProblems = 100;

/** The closing entry of a capped report. */
export function moreProblems(count: number): PlumbError {
  return new PlumbError("PLUMB_MORE_PROBLEMS", `and ${count.toLocaleString("en")} more problem(s) not shown`, {
    hint: `fix the ones above first; at most ${maxReportedProblems} are reported at once`,
  });
}

/** Several input errors found in one pass, so a user can fix them all at once (the first hundred, and a count of the rest). */
export class PlumbErrorList extends Error {
  readonly errors: readonly PlumbError[];

  constructor(errors: readonly PlumbError[]) {
    const shown =
      errors.length > maxReportedProblems + 1 ? [...errors.slice(0, maxReportedProblems), moreProblems(errors.length - maxReportedProblems)] : errors;
    super(shown.map((error) => error.describe()).join("\n"));
    this.name = "PlumbErrorList";
    this.errors = shown;
  }
}

/** A message for anything thrown, whether or not it came from Plumb. */
export function errorMessage(error: unknown): string {
  if (error instanceof PlumbError) return error.describe();
  if (error instanceof PlumbErrorList) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
