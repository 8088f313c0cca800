// The one redaction layer: every secret value this process resolves is
// remembered here, and every output — logs, the state store, API responses,
// the event stream, CLI output — passes through `redact`, so a value that
// reaches one of them by accident (a provider error echoing a user name or a
// connection string) comes out as [redacted].

import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow, PrimitiveValueListNode, ValueNode } from "kysely";
import { OperationNodeTransformer } from "kysely";

export const redactedText = "[redacted]";

/**
 * Values shorter than this are not masked: masking "a" or "on" would garble
 * every output, and a secret that short is not a secret.
 */
const shortest = 4;

export class Redactor {
  private readonly values = new Set<string>();
  private pattern: RegExp | undefined;

  remember(value: string): void {
    if (value.length < shortest || this.values.has(value)) return;
    this.values.add(value);
    // Longest first, so a value containing another is masked whole.
    const alternatives = [...this.values].sort((left, right) => right.length - left.length).map((item) => item.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
    this.pattern = new RegExp(alternatives.join("|"), "g");
  }

  redact(text: string): string {
    if (this.pattern === undefined || text.length < shortest) return text;
    return text.replace(this.pattern, redactedText);
  }

  /** Strings anywhere inside a JSON-like value, keys included. */
  redactDeep<Value>(value: Value): Value {
    if (this.pattern === undefined) return value;
    const visit = (item: unknown): unknown => {
      if (typeof item === "string") return this.redact(item);
      if (Array.isArray(item)) return item.map(visit);
      if (typeof item === "object" && item !== null && !(item instanceof Date) && !(item instanceof Uint8Array)) {
        return Object.fromEntries(Object.entries(item).map(([key, entry]) => [this.redact(key), visit(entry)]));
      }
      return item;
    };
    return visit(value) as Value;
  }
}

/**
 * One per process: secrets are resolved by the engine, the agent and the CLI,
 * and every output of the process must know all of them.
 */
export const redactor = new Redactor();

/** Masks remembered secrets in every string a query sends to the database. */
class RedactValues extends OperationNodeTransformer {
  protected override transformValue(node: ValueNode): ValueNode {
    return typeof node.value === "string" ? { ...node, value: redactor.redact(node.value) } : node;
  }

  protected override transformPrimitiveValueList(node: PrimitiveValueListNode): PrimitiveValueListNode {
    return { ...node, values: node.values.map((value) => (typeof value === "string" ? redactor.redact(value) : value)) };
  }
}

/** The state store's side of the layer: nothing a secret reached is written to disk. */
export class RedactionPlugin implements KyselyPlugin {
  private readonly transformer = new RedactValues();

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return this.transformer.transformNode(args.node);
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

/** The CLI's side: everything it prints. */
export function redactProcessOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => write(typeof chunk === "string" ? redactor.redact(chunk) : chunk instanceof Uint8Array ? redactor.redact(Buffer.from(chunk).toString("utf8")) : chunk, ...rest)) as typeof stream.write;
  }
}
