// Parses YAML text into plain values while keeping the positions of every node,
// so later stages can say file:line:column for any field they complain about.

import { isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node } from "yaml";
import { PlumbError } from "../errors.js";
import type { SourcePosition } from "../sdk/resource.js";

/**
 * Aliases are expanded while converting to plain values; capping them stops
 * "billion laughs" documents before they can exhaust memory.
 */
const maxAliasCount = 100;

export interface ParsedDocument {
  readonly file: string;
  readonly value: unknown;
  /** Where the document starts. */
  readonly position: SourcePosition;
  /**
   * Where the node at `path` was written: the key itself for a mapping entry,
   * or the nearest ancestor that exists when the path is not in the source.
   */
  locate(path: readonly (string | number)[]): SourcePosition;
}

export function parseYamlDocuments(file: string, text: string): ParsedDocument[] {
  const lineCounter = new LineCounter();
  const positionAt = (offset: number): SourcePosition => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, column: col };
  };
  let documents: Document.Parsed[];
  try {
    documents = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true }) as Document.Parsed[];
  } catch (error) {
    throw new PlumbError("PLUMB_YAML_SYNTAX", `cannot parse YAML: ${String(error)}`, { location: { file } });
  }
  if (!Array.isArray(documents)) documents = [documents];
  const parsed: ParsedDocument[] = [];
  for (const document of documents) {
    const firstError = document.errors[0];
    if (firstError !== undefined) {
      const where = positionAt(firstError.pos[0]);
      throw new PlumbError("PLUMB_YAML_SYNTAX", `invalid YAML: ${firstLine(firstError.message)}`, {
        location: where,
        hint: "fix the YAML syntax at this position (indentation, quoting, a missing colon)",
      });
    }
    if (document.contents === null) continue;
    let value: unknown;
    try {
      value = document.toJS({ maxAliasCount });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (/alias/i.test(message)) {
        throw new PlumbError("PLUMB_YAML_ALIAS", `too many YAML alias expansions (more than ${maxAliasCount}); this looks like an alias bomb`, {
          location: positionAt(document.contents.range?.[0] ?? 0),
          hint: "write the repeated values out, or use fewer anchors and aliases",
        });
      }
      throw new PlumbError("PLUMB_YAML_SYNTAX", `cannot read YAML document: ${message}`, { location: positionAt(document.contents.range?.[0] ?? 0) });
    }
    const root = document.contents;
    parsed.push({
      file,
      value,
      position: positionAt(root.range?.[0] ?? 0),
      locate: (path) => positionAt(locateOffset(root, path)),
    });
  }
  return parsed;
}

function locateOffset(root: Node, path: readonly (string | number)[]): number {
  let node: unknown = root;
  let offset = root.range?.[0] ?? 0;
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment));
      if (pair === undefined || !isPair(pair)) return offset;
      const key = pair.key as Node;
      offset = key.range?.[0] ?? offset;
      node = pair.value;
      continue;
    }
    if (isSeq(node)) {
      const item = node.items[Number(segment)] as Node | undefined;
      if (item === undefined) return offset;
      offset = item.range?.[0] ?? offset;
      node = item;
      continue;
    }
    return offset;
  }
  return offset;
}

function firstLine(message: string): string {
  return message.split("\n")[0] ?? message;
}
