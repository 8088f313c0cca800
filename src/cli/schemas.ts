// `plumb schemas --out <dir>`: JSON Schemas for editors. One file per kind
// (Plumb's platform kinds, every provider kind, the platform's composites and
// plug-ins with --platform), built from the TypeBox schemas Plumb validates
// with, and `plumb.schema.json`, which picks the right one for each YAML
// document by apiVersion and kind (yaml-language-server: `# yaml-language-server: $schema=…`).

import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { TSchema } from "@sinclair/typebox";
import type { Command } from "commander";
import { notificationSinkSchema } from "../agent/notification-sinks.js";
import { providerPluginSchema } from "../agent/provider-plugins.js";
import { stackSetSchema } from "../agent/stack-sets.js";
import { compliancePolicySchema } from "../policy/compliance.js";
import { pinSchema, promotionPolicySchema } from "../policy/promotion.js";
import { projectDocumentSchema, providerInstanceDocumentSchema } from "../project-definition.js";
import type { ProviderRegistry } from "../providers/registry.js";
import type { CompositeKind } from "../render/platform-library.js";
import { secretStoreSchema } from "../secrets/stores.js";
import { stackDocumentSchema } from "../stack-definition.js";
import { action, platformFrom, registry, sandboxLimits, withSandboxOptions } from "./context.js";

type JsonSchema = Record<string, unknown>;

/** One schema file: which documents it is for, and the schema. */
export interface KindSchema {
  apiVersion: string;
  kind: string;
  schema: JsonSchema;
}

const draft = "http://json-schema.org/draft-07/schema#";

/**
 * A TypeBox schema as plain JSON (its symbols dropped), with every field that
 * has a `default` no longer required: Plumb fills defaults in before it
 * validates, so an editor must not ask for them.
 */
function plain(schema: TSchema): JsonSchema {
  const relax = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(relax);
    if (typeof value !== "object" || value === null) return value;
    const object = Object.fromEntries(Object.entries(value).map(([key, item]) => [key, relax(item)])) as JsonSchema;
    const properties = object.properties as Record<string, JsonSchema> | undefined;
    if (Array.isArray(object.required) && properties !== undefined) {
      const required = (object.required as string[]).filter((name) => properties[name]?.default === undefined);
      if (required.length > 0) object.required = required;
      else delete object.required;
    }
    return object;
  };
  return relax(JSON.parse(JSON.stringify(schema))) as JsonSchema;
}

const metadataSchema: JsonSchema = {
  type: "object",
  required: ["name"],
  properties: {
    name: { type: "string", minLength: 1, description: "The resource's name: unique in the stack for its apiVersion and kind." },
    labels: { type: "object", additionalProperties: { type: "string" } },
    annotations: {
      type: "object",
      additionalProperties: { type: "string" },
      description: "plumb.dev/provider, plumb.dev/depends-on, plumb.dev/deletion-policy, …",
    },
  },
};

/** A resource document of a kind whose `spec` is `spec`. */
function resourceSchema(apiVersion: string, kind: string, spec: JsonSchema, description?: string): JsonSchema {
  return {
    type: "object",
    ...(description === undefined ? {} : { description }),
    required: ["apiVersion", "kind", "metadata", "spec"],
    properties: { apiVersion: { const: apiVersion }, kind: { const: kind }, metadata: metadataSchema, spec },
  };
}

/** Plumb's own document kinds, from the schemas it validates them with. */
function platformKinds(): KindSchema[] {
  const documents: [string, TSchema][] = [
    ["Stack", stackDocumentSchema],
    ["StackSet", stackSetSchema as TSchema],
    ["CompliancePolicy", compliancePolicySchema],
    ["SecretStore", secretStoreSchema],
    ["Project", projectDocumentSchema],
    ["ProviderInstance", providerInstanceDocumentSchema],
    ["ProviderPlugin", providerPluginSchema],
    ["NotificationSink", notificationSinkSchema],
    ["PromotionPolicy", promotionPolicySchema],
    ["Pin", pinSchema],
  ];
  return documents.map(([kind, schema]) => ({ apiVersion: "plumb.dev/v1", kind, schema: plain(schema) }));
}

/** Every kind the registry's providers serve (a plug-in's included once loaded). */
function providerKinds(providers: ProviderRegistry): KindSchema[] {
  const kinds: KindSchema[] = [];
  for (const type of providers.types()) {
    const provider = providers.providerForType(type);
    if (provider === undefined || provider.foreignObjects === true) continue;
    const apiVersion = `${provider.group}/${provider.version}`;
    for (const handler of provider.kinds)
      kinds.push({ apiVersion, kind: handler.kind, schema: resourceSchema(apiVersion, handler.kind, plain(handler.schema)) });
  }
  return kinds;
}

function compositeKinds(composites: readonly CompositeKind[]): KindSchema[] {
  return composites.map((composite) => ({
    apiVersion: composite.apiVersion,
    kind: composite.kind,
    schema: resourceSchema(composite.apiVersion, composite.kind, plain(composite.schema), composite.description),
  }));
}

export function schemaFileName({ apiVersion, kind }: { apiVersion: string; kind: string }): string {
  return `${apiVersion.replaceAll("/", "_")}_${kind}.schema.json`;
}

/** The index: for a document of a known apiVersion and kind, that kind's schema; any other document passes. */
export function indexSchema(kinds: readonly KindSchema[]): JsonSchema {
  return {
    $schema: draft,
    title: "Plumb documents",
    type: "object",
    allOf: kinds.map((kind) => ({
      if: { required: ["apiVersion", "kind"], properties: { apiVersion: { const: kind.apiVersion }, kind: { const: kind.kind } } },
      then: { $ref: `./${schemaFileName(kind)}` },
    })),
  };
}

/** Every schema file, name to content: the kinds' and the index. */
export function schemaFiles(kinds: readonly KindSchema[]): Map<string, string> {
  const files = new Map<string, string>();
  for (const kind of kinds)
    files.set(
      schemaFileName(kind),
      `${JSON.stringify({ $schema: draft, $id: schemaFileName(kind), title: `${kind.apiVersion} ${kind.kind}`, ...kind.schema }, null, 2)}\n`,
    );
  files.set("plumb.schema.json", `${JSON.stringify({ $id: "plumb.schema.json", ...indexSchema(kinds) }, null, 2)}\n`);
  return files;
}

export function registerSchemas(program: Command): void {
  withSandboxOptions(program.command("schemas"))
    .description("write JSON Schemas of every kind (Plumb's, the providers', and with --platform the composites' and plug-ins'), for editors and CI")
    .requiredOption("--out <dir>", "the directory to write them to")
    .option("--platform <dir>", "the platform directory: its composites and provider plug-ins get schemas too")
    .addHelpText(
      "after",
      "\nExamples:\n  $ plumb schemas --out schemas --platform examples/platform\n\nThen, on the first line of a YAML file:\n  # yaml-language-server: $schema=../schemas/plumb.schema.json",
    )
    .action(
      action(async (options: { out: string; platform?: string; programTimeout: string; programMemory: string }) => {
        const library = await platformFrom(options.platform, sandboxLimits(options));
        const kinds = [...platformKinds(), ...providerKinds(registry), ...compositeKinds(library?.composites ?? [])];
        mkdirSync(options.out, { recursive: true });
        const files = schemaFiles(kinds);
        for (const [name, text] of files) writeFileSync(path.join(options.out, name), text);
        process.stdout.write(`${files.size} schemas written to ${options.out} (${kinds.length} kinds and plumb.schema.json)\n`);
      }),
    );
}
