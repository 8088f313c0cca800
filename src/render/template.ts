// The StackSet template language: `{{ .field.path }}` looks up a generator's
// parameter, optionally through filters (`{{ .team | lower }}`). Nothing else:
// no calls, no loops, no code — a template can only copy values it was given.
// A string that is exactly one placeholder takes the parameter's own type.

export type TemplateValue = string | number | boolean | null | TemplateValue[] | { [key: string]: TemplateValue };

/** A placeholder that names a parameter the generator did not give, or is malformed. */
export class TemplateError extends Error {
  constructor(
    message: string,
    /** The field path inside the template (`metadata.name`). */
    readonly at: (string | number)[],
  ) {
    super(message);
  }
}

const filters: Record<string, (value: string) => string> = {
  lower: (value) => value.toLowerCase(),
  upper: (value) => value.toUpperCase(),
  /** A DNS label: lower case, runs of anything else as one hyphen, trimmed to 63 characters. */
  normalize: (value) =>
    value
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 63)
      .replace(/-+$/, ""),
};

const placeholder = /\{\{(.*?)\}\}/g;
const fieldPath = /^\.([A-Za-z_][A-Za-z0-9_-]*)(\.[A-Za-z_][A-Za-z0-9_-]*)*$/;

function lookup(parameters: TemplateValue, expression: string, at: (string | number)[]): TemplateValue {
  const [reference = "", ...filterNames] = expression.split("|").map((part) => part.trim());
  if (!fieldPath.test(reference))
    throw new TemplateError(
      `"{{${expression}}}" is not a parameter reference; write {{ .name }} or {{ .path.basename }}, optionally | lower, | upper or | normalize`,
      at,
    );
  let value: TemplateValue = parameters;
  for (const key of reference.slice(1).split(".")) {
    if (value === null || typeof value !== "object" || Array.isArray(value) || !Object.hasOwn(value, key)) {
      const known = value !== null && typeof value === "object" && !Array.isArray(value) ? Object.keys(value).sort() : [];
      throw new TemplateError(
        `{{ ${reference} }}: the generator gives no "${key}"${known.length > 0 ? ` (it gives ${known.map((name) => `.${name}`).join(", ")})` : ""}`,
        at,
      );
    }
    value = value[key] as TemplateValue;
  }
  for (const name of filterNames) {
    const filter = filters[name];
    if (filter === undefined) throw new TemplateError(`{{${expression}}}: unknown filter "${name}" (there are lower, upper and normalize)`, at);
    if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean")
      throw new TemplateError(`{{ ${reference} }} is not text, so | ${name} cannot apply`, at);
    value = filter(String(value));
  }
  return value;
}

function fillString(text: string, parameters: TemplateValue, at: (string | number)[]): TemplateValue {
  const whole = /^\{\{(.*?)\}\}$/.exec(text);
  if (whole !== null && !(whole[1] as string).includes("{{")) return lookup(parameters, whole[1] as string, at);
  return text.replace(placeholder, (_match, expression: string) => {
    const value = lookup(parameters, expression, at);
    if (value !== null && typeof value === "object") throw new TemplateError(`{{${expression}}} is a list or a map and cannot go inside text`, at);
    return String(value);
  });
}

/** Fills every string of `template` (keys stay as written) from `parameters`. */
export function fillTemplate(template: TemplateValue, parameters: TemplateValue, at: (string | number)[] = []): TemplateValue {
  if (typeof template === "string") return fillString(template, parameters, at);
  if (Array.isArray(template)) return template.map((item, index) => fillTemplate(item, parameters, [...at, index]));
  if (template !== null && typeof template === "object")
    return Object.fromEntries(Object.entries(template).map(([key, value]) => [key, fillTemplate(value, parameters, [...at, key])]));
  return template;
}
