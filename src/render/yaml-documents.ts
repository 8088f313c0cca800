// Parses YAML text into plain values, and says where any field was written.
// Values come from js-yaml, which is fast, with each document's first line;
// positions of fields come from the `yaml` parser, which keeps every node's
// range but is ten times slower, so it runs only for a file whose field
// positions are needed (an error) or that uses aliases.

import jsYaml from "js-yaml";
import { isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node } from "yaml";
import { PlumbError } from "../errors.js";
import type { SourcePosition } from "../sdk/resource.js";

/**
 * Aliases are expanded while converting to plain values; capping them stops
 * "billion laughs" documents before they can exhaust memory.
 */
const maxAliasCount = 100;

/**
 * A `*` that starts a token may be an alias. Files that might hold one take the
 * positioned parser, whose alias cap protects against expansion bombs.
 */
const possibleAlias = /(?:^|[\s[{,])\*/;

export interface ParsedDocument {
  readonly file: string;
  /** Index of the document in its file, counting empty documents too. */
  readonly index: number;
  readonly value: unknown;
  /** Where the document starts. */
  readonly position: SourcePosition;
  /**
   * Where the node at `path` was written: the key itself for a mapping entry,
   * or the nearest ancestor that exists when the path is not in the source.
   */
  locate(path: readonly (string | number)[]): SourcePosition;
  /** The line its content starts on (for a resource declared in TypeScript, the line of the call). */
  readonly line?: number;
}

interface PositionedDocument {
  index: number;
  value: unknown;
  position: SourcePosition;
  locate(path: readonly (string | number)[]): SourcePosition;
}

/**
 * More documents than this in one file is refused before parsing: a small
 * file of many empty or tiny documents would otherwise cost memory and
 * problems by the hundred thousand.
 */
export const maxDocumentsPerFile = 20_000;

export function parseYamlDocuments(file: string, text: string): ParsedDocument[] {
  // Separators start a line; a count over the cap refuses the file before either parser runs.
  let separators = 0;
  for (let at = text.indexOf("---"); at !== -1; at = text.indexOf("---", at + 3)) {
    if ((at === 0 || text[at - 1] === "\n") && ++separators > maxDocumentsPerFile) {
      throw new PlumbError("PLUMB_FILE_TOO_LARGE", `holds more than ${maxDocumentsPerFile.toLocaleString("en")} YAML documents`, {
        location: { file },
        hint: "split it into several files",
      });
    }
  }
  if (possibleAlias.test(text)) return parsePositioned(file, text);
  let values: unknown[];
  // The loader reports each node it opens; a document's first is its root, on the line its content starts.
  const startLines = new Map<number, number>();
  let depth = 0;
  const listener = (event: jsYaml.EventType, state: jsYaml.State): void => {
    if (event === "close") depth -= 1;
    // `documents` (those loaded so far) is the loader's own field, not in its published types.
    else if (depth++ === 0) startLines.set((state as jsYaml.State & { documents: unknown[] }).documents.length, state.line + 1);
  };
  try {
    values = jsYaml.loadAll(text, undefined, { schema: jsYaml.CORE_SCHEMA, filename: file, listener });
  } catch (error) {
    // The positioned parser gives the same error with a precise position.
    parsePositioned(file, text);
    const mark = (error as { mark?: { line: number; column: number } }).mark;
    throw new PlumbError("PLUMB_YAML_SYNTAX", `invalid YAML: ${(error as Error).message.split("\n")[0] ?? "cannot parse"}`, {
      location: { file, ...(mark === undefined ? {} : { line: mark.line + 1, column: mark.column + 1 }) },
    });
  }
  let positioned: Map<number, PositionedDocument> | undefined;
  const positionedDocument = (index: number): PositionedDocument | undefined => {
    positioned ??= new Map(parsePositioned(file, text).map((document) => [document.index, document]));
    return positioned.get(index);
  };
  const documents: ParsedDocument[] = [];
  values.forEach((value, index) => {
    if (value === null || value === undefined) return;
    const line = startLines.get(index);
    documents.push({
      file,
      index,
      value,
      ...(line === undefined ? {} : { line }),
      get position() {
        return positionedDocument(index)?.position ?? { file, line: 1, column: 1 };
      },
      locate: (path) => positionedDocument(index)?.locate(path) ?? { file, line: 1, column: 1 },
    });
  });
  return documents;
}

function parsePositioned(file: string, text: string): (ParsedDocument & PositionedDocument)[] {
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
  const parsed: (ParsedDocument & PositionedDocument)[] = [];
  documents.forEach((document, index) => {
    const firstError = document.errors[0];
    if (firstError !== undefined) {
      throw new PlumbError("PLUMB_YAML_SYNTAX", `invalid YAML: ${firstError.message.split("\n")[0] ?? ""}`, {
        location: positionAt(firstError.pos[0]),
        hint: "fix the YAML syntax at this position (indentation, quoting, a missing colon)",
      });
    }
    const root = document.contents;
    if (root === null) return;
    let value: unknown;
    try {
      value = document.toJS({ maxAliasCount });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (/excessive alias count/i.test(message)) {
        throw new PlumbError("PLUMB_YAML_ALIAS", `too many YAML alias expansions (more than ${maxAliasCount}); this looks like an alias bomb`, {
          location: positionAt(root.range?.[0] ?? 0),
          hint: "write the repeated values out, or use fewer anchors and aliases",
        });
      }
      throw new PlumbError("PLUMB_YAML_SYNTAX", `cannot read YAML document: ${message}`, { location: positionAt(root.range?.[0] ?? 0) });
    }
    const position = positionAt(root.range?.[0] ?? 0);
    parsed.push({ file, index, value, position, line: position.line, locate: (path) => positionAt(locateOffset(root, path)) });
  });
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
