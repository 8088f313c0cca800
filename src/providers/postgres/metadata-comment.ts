// Plumb's tags live in the object's COMMENT as one JSON line, after whatever a
// person wrote there, so a DBA reading the catalog sees who owns what and no
// human comment is ever overwritten.

const marker = "plumb: ";

export interface ParsedComment {
  /** What a person wrote, without Plumb's line. */
  human: string;
  tags: Record<string, string>;
}

export function parseComment(comment: string | null): ParsedComment {
  if (comment === null || comment === "") return { human: "", tags: {} };
  const lines = comment.split("\n");
  const index = lines.findLastIndex((line) => line.startsWith(`${marker}{`));
  if (index < 0) return { human: comment, tags: {} };
  let tags: Record<string, string> = {};
  try {
    const parsed: unknown = JSON.parse((lines[index] as string).slice(marker.length));
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
      tags = Object.fromEntries(Object.entries(parsed).map(([key, value]) => [key, String(value)]));
    }
  } catch {
    return { human: comment, tags: {} };
  }
  lines.splice(index, 1);
  return { human: lines.join("\n").replace(/\n+$/, ""), tags };
}

/** The comment to write: the human part kept as it is, Plumb's tags on their own line. */
export function composeComment(human: string, tags: Record<string, string>): string | null {
  const sorted = Object.fromEntries(Object.entries(tags).sort(([left], [right]) => (left < right ? -1 : 1)));
  const line = Object.keys(sorted).length === 0 ? "" : `${marker}${JSON.stringify(sorted)}`;
  const text = [human, line].filter((part) => part !== "").join("\n");
  return text === "" ? null : text;
}
