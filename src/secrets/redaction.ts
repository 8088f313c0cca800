// The one redaction layer: every secret value this process resolves is
// remembered here, and every output — logs, the state store, API responses,
// the event stream, CLI output — passes through `redact`, so a value that
// reaches one of them by accident (a provider error echoing a user name or a
// connection string) comes out as [redacted].

import type {
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
  PrimitiveValueListNode,
  ValueNode,
} from "kysely";
import { OperationNodeTransformer } from "kysely";

export const redactedText = "[redacted]";

/**
 * Values shorter than this are not masked: masking "a" or "on" would garble
 * every output, and a secret that short is not a secret.
 */
const shortest = 4;

/** Base64 quanta that a value's bytes produce alone, whatever offset it starts at inside a longer encoded text. */
function base64Fragments(value: string): string[] {
  const bytes = Buffer.from(value, "utf8");
  const fragments: string[] = [bytes.toString("base64"), bytes.toString("base64url")];
  for (let offset = 0; offset < 3; offset++) {
    const padded = Buffer.concat([Buffer.alloc(offset), bytes]);
    const whole = Math.floor(padded.length / 3) * 4;
    // The first quantum mixes in bytes before the value (unless it starts one); the last partial one bytes after it.
    const middle = padded.toString("base64").slice(offset === 0 ? 0 : 4, whole);
    if (middle.length >= 8) fragments.push(middle, middle.replaceAll("+", "-").replaceAll("/", "_"));
  }
  return fragments;
}

/** Every spelling of a value that an output channel may give it: JSON (once or twice escaped), URLs, HTML, base64. */
export function encodedForms(value: string): string[] {
  const json = JSON.stringify(value).slice(1, -1);
  const asciiJson = json.replace(/[\u0080-\uffff]/g, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`);
  const html = value.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;").replaceAll("'", "&#39;");
  const forms = [
    value,
    json,
    JSON.stringify(json).slice(1, -1),
    asciiJson,
    encodeURIComponent(value),
    encodeURIComponent(value).replaceAll("%20", "+"),
    encodeURI(value),
    html,
    ...base64Fragments(value),
  ];
  return [...new Set(forms)].filter((form) => form.length >= shortest);
}

/** A secret cut off after at least this many characters is still masked (servers truncate names in messages). */
const truncatedPrefix = 12;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export class Redactor {
  private readonly values = new Set<string>();
  /** Every spelling of every value by its first characters (all of a short one). */
  private readonly byStart = new Map<string, string[]>();
  private pattern: RegExp | undefined;

  remember(value: string): void {
    if (value.length < shortest || this.values.has(value)) return;
    this.values.add(value);
    for (const form of encodedForms(value)) {
      const start = form.slice(0, truncatedPrefix);
      const forms = this.byStart.get(start) ?? [];
      if (!forms.includes(form)) forms.push(form);
      this.byStart.set(start, forms);
    }
    // Longest start first, so a short value that begins a longer one never cuts the longer match short.
    const starts = [...this.byStart.keys()].sort((left, right) => right.length - left.length);
    this.pattern = new RegExp(starts.map(escapeRegExp).join("|"), "g");
  }

  /**
   * Finds each start of a spelling, then masks as far as the text goes on
   * agreeing with one: the whole value, or what is left of it where a server
   * cut it off (at least twelve characters of it).
   */
  redact(text: string): string {
    const pattern = this.pattern;
    if (pattern === undefined || text.length < shortest) return text;
    pattern.lastIndex = 0;
    let output = "";
    let copied = 0;
    for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
      const at = match.index;
      let length = 0;
      for (const form of this.byStart.get(match[0]) ?? []) {
        let agree = match[0].length;
        while (agree < form.length && at + agree < text.length && text[at + agree] === form[agree]) agree++;
        // A short value counts only whole; a long one from twelve characters on.
        if ((agree === form.length || agree >= truncatedPrefix) && agree > length) length = agree;
      }
      if (length === 0) {
        pattern.lastIndex = at + 1;
        continue;
      }
      output += text.slice(copied, at) + redactedText;
      copied = at + length;
      pattern.lastIndex = copied;
    }
    return copied === 0 ? text : output + text.slice(copied);
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
    stream.write = ((chunk: unknown, ...rest: unknown[]) =>
      write(
        typeof chunk === "string" ? redactor.redact(chunk) : chunk instanceof Uint8Array ? redactor.redact(Buffer.from(chunk).toString("utf8")) : chunk,
        ...rest,
      )) as typeof stream.write;
  }
}
