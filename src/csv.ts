// CSV cells for exports (RFC 4180), with text a spreadsheet would run as a
// formula (=, +, -, @) prefixed by a quote so it stays text.

export function csvField(value: unknown): string {
  let text = value === null || value === undefined ? "" : typeof value === "object" ? JSON.stringify(value) : String(value);
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
