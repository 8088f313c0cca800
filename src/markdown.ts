// Markdown text from untrusted strings (labels, names, messages): every
// character with a meaning in Markdown or HTML is escaped, so it shows as text.

export function escapeMarkdown(text: string): string {
  return text.replace(/[\r\n]+/g, " ").replace(/[\\`*_{}[\]()#+!|<>]/g, (character) => `\\${character}`);
}
