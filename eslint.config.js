// Lint rules for the whole repository: the TypeScript recommended set, type-aware.
import eslint from "@eslint/js";
import tseslint from "typescript-eslint";
import layers from "./scripts/eslint-layers.js";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "coverage/", ".plumb/", ".plumb-demo/", "demo-output/"] },
  eslint.configs.recommended,
  { files: ["src/**/*.ts"], plugins: { layers }, rules: { "layers/import-layers": "error" } },
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: "readonly",
        console: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
        setInterval: "readonly",
        clearInterval: "readonly",
        URL: "readonly",
        Buffer: "readonly",
        fetch: "readonly",
      },
    },
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-console": "off",
    },
  },
);
