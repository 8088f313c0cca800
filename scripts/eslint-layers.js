// The layering of src/ as a lint rule: a stage may import the stages below it
// and the ground level, never above. An upward import fails `npm run lint`
// with a message naming both layers and what the importing layer may use.
import path from "node:path";

/** Lowest first. Files directly in src/ and src/sdk/ are the ground level. */
const layers = ["ground", "secrets", "state", "providers", "program-sdk", "source", "render", "policy", "engine", "agent", "api", "cli"];

/** The program SDK types the built-in providers' kinds, so it sits above them; the rest of sdk/ is ground. */
const programSdk = new Set(["sdk/program.ts"]);

function layerOf(file, source) {
  const relative = path.relative(source, file).split(path.sep).join("/");
  if (relative.startsWith("..")) return undefined;
  if (relative === "index.ts") return "entry";
  if (programSdk.has(relative)) return "program-sdk";
  const [top] = relative.split("/");
  if (!relative.includes("/") || top === "sdk") return "ground";
  return layers.includes(top) ? top : undefined;
}

const rule = {
  meta: {
    type: "problem",
    docs: { description: "stages of src/ import only the stages below them" },
    messages: {
      upward:
        "{{from}} may not import {{to}} ({{target}}): a layer imports only the layers below it. {{from}} may import: {{allowed}}. Move what both need to a lower layer (the ground level: files in src/ and src/sdk/).",
    },
    schema: [],
  },
  create(context) {
    const source = path.join(context.cwd, "src");
    const from = layerOf(context.filename, source);
    if (from === undefined || from === "entry") return {};
    const check = (node) => {
      const specifier = node.source?.value;
      if (typeof specifier !== "string" || !specifier.startsWith(".")) return;
      const target = path.resolve(path.dirname(context.filename), specifier).replace(/\.js$/, ".ts");
      const to = layerOf(target, source);
      if (to === undefined || to === from || to === "ground") return;
      if (to === "entry" || layers.indexOf(to) > layers.indexOf(from)) {
        const allowed = layers.slice(0, layers.indexOf(from)).join(", ");
        context.report({
          node,
          messageId: "upward",
          data: { from, to, target: path.relative(context.cwd, target), allowed: allowed === "" ? "nothing but itself" : allowed },
        });
      }
    };
    return { ImportDeclaration: check, ExportNamedDeclaration: check, ExportAllDeclaration: check, ImportExpression: check };
  },
};

export default { rules: { "import-layers": rule } };
