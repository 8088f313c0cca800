// The `plumb/sdk` module that stack programs (`main.ts`) and platform
// composites import: typed constructors for every provider kind, output
// references between resources, and `defineComposite`. Spec types come from
// the providers' TypeBox schemas, so an invalid property is a type error in
// the editor and a schema error with the program's file:line at render time.

import type { Static, TSchema } from "@sinclair/typebox";
import type { DirectorySpec } from "../providers/file/directory.js";
import type { FileSpec } from "../providers/file/file.js";
import type { DatabaseSpec } from "../providers/postgres/database.js";
import type { DefaultPrivilegesSpec } from "../providers/postgres/default-privileges.js";
import type { ExtensionSpec } from "../providers/postgres/extension.js";
import type { GrantSpec } from "../providers/postgres/grant.js";
import type { RoleSpec } from "../providers/postgres/role.js";
import type { SchemaSpec } from "../providers/postgres/schema.js";
import { callerSite, declare } from "./program-scope.js";

export { Type } from "@sinclair/typebox";
export type { Static, TSchema };

/**
 * A value another resource produces (its name in PostgreSQL, say). It becomes a
 * dependency edge, and the engine puts the value in when it plans the run.
 */
export class Output<T = string> {
  declare readonly valueType?: T;
  constructor(
    readonly resource: string,
    readonly output: string,
  ) {}

  toJSON(): { outputRef: { resource: string; output: string } } {
    return { outputRef: { resource: this.resource, output: this.output } };
  }
}

/** A spec where every top-level field may also be an output of another resource. */
export type Inputs<Spec> = { [Field in keyof Spec]: Spec[Field] | Output<Exclude<Spec[Field], undefined>> };

export interface ResourceOptions {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** The provider instance of the Stack to use; default "default". */
  provider?: string;
  /** Resources this one waits for, besides those it takes outputs from. */
  dependsOn?: readonly Declared[];
  /** `false` protects the live object from prune. */
  prune?: boolean;
  deletionPolicy?: "Delete" | "Retain";
}

/** Anything declared in a program: a provider resource or a composite claim. */
export abstract class Declared {
  readonly address: string;

  constructor(
    readonly apiVersion: string,
    readonly kind: string,
    readonly resourceName: string,
    spec: unknown,
    options: ResourceOptions = {},
  ) {
    if (typeof resourceName !== "string" || resourceName === "") throw new TypeError(`${kind}: the first argument must be a non-empty name`);
    this.address = `${apiVersion}/${kind}/${resourceName}`;
    const annotations: Record<string, string> = { ...options.annotations };
    if (options.provider !== undefined) annotations["plumb.dev/provider"] = options.provider;
    if (options.dependsOn !== undefined && options.dependsOn.length > 0)
      annotations["plumb.dev/depends-on"] = options.dependsOn.map((item) => item.address).join(",");
    if (options.prune !== undefined) annotations["plumb.dev/prune"] = String(options.prune);
    if (options.deletionPolicy !== undefined) annotations["plumb.dev/deletion-policy"] = options.deletionPolicy;
    declare({ apiVersion, kind, name: resourceName, spec: spec ?? {}, labels: { ...options.labels }, annotations, site: callerSite() });
  }

  /** An output of this resource by name, for outputs without a typed accessor. */
  output<T = string>(name: string): Output<T> {
    return new Output<T>(this.address, name);
  }
}

abstract class ProviderResource<Spec> extends Declared {
  constructor(apiVersion: string, kind: string, name: string, spec: Inputs<Spec>, options?: ResourceOptions) {
    super(apiVersion, kind, name, spec, options);
  }
}

abstract class NamedPostgresObject<Spec> extends ProviderResource<Spec> {
  /** The object's name in PostgreSQL. */
  get name(): Output<string> {
    return this.output("name");
  }
}

const postgresApi = "postgres.plumb.dev/v1";
const fileApi = "file.plumb.dev/v1";

// Namespaces give programs `new postgres.Role(…)`, the shape Pulumi users know, with a type per kind.
// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace postgres {
  export class Role extends NamedPostgresObject<RoleSpec> {
    constructor(name: string, spec: Inputs<RoleSpec> = {}, options?: ResourceOptions) {
      super(postgresApi, "Role", name, spec, options);
    }
  }
  export class Database extends NamedPostgresObject<DatabaseSpec> {
    constructor(name: string, spec: Inputs<DatabaseSpec> = {}, options?: ResourceOptions) {
      super(postgresApi, "Database", name, spec, options);
    }
  }
  export class Schema extends NamedPostgresObject<SchemaSpec> {
    constructor(name: string, spec: Inputs<SchemaSpec>, options?: ResourceOptions) {
      super(postgresApi, "Schema", name, spec, options);
    }
  }
  export class Extension extends NamedPostgresObject<ExtensionSpec> {
    constructor(name: string, spec: Inputs<ExtensionSpec>, options?: ResourceOptions) {
      super(postgresApi, "Extension", name, spec, options);
    }
  }
  export class Grant extends ProviderResource<GrantSpec> {
    constructor(name: string, spec: Inputs<GrantSpec>, options?: ResourceOptions) {
      super(postgresApi, "Grant", name, spec, options);
    }
  }
  export class DefaultPrivileges extends ProviderResource<DefaultPrivilegesSpec> {
    constructor(name: string, spec: Inputs<DefaultPrivilegesSpec>, options?: ResourceOptions) {
      super(postgresApi, "DefaultPrivileges", name, spec, options);
    }
  }
}

// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace file {
  export class File extends ProviderResource<FileSpec> {
    constructor(name: string, spec: Inputs<FileSpec>, options?: ResourceOptions) {
      super(fileApi, "File", name, spec, options);
    }
    /** The path relative to the provider's root. */
    get path(): Output<string> {
      return this.output("path");
    }
  }
  export class Directory extends ProviderResource<DirectorySpec> {
    constructor(name: string, spec: Inputs<DirectorySpec>, options?: ResourceOptions) {
      super(fileApi, "Directory", name, spec, options);
    }
    get path(): Output<string> {
      return this.output("path");
    }
  }
}

/** A Kubernetes object as its manifest: any apiVersion the cluster serves. */
export interface KubernetesManifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [field: string]: unknown };
  [field: string]: unknown;
}

/** Options of a Kubernetes object: labels and annotations are the manifest's own. */
export type KubernetesOptions = Omit<ResourceOptions, "labels" | "annotations">;

// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace k8s {
  /** Any Kubernetes object, for the Stack's `kubernetes` provider instance; its name carries its namespace. */
  export class Object extends Declared {
    constructor(manifest: KubernetesManifest, options: KubernetesOptions = {}) {
      const metadata = manifest?.metadata;
      if (typeof metadata?.name !== "string" || metadata.name === "")
        throw new TypeError(`${String(manifest?.kind)}: metadata.name must be a non-empty string`);
      const name = metadata.namespace === undefined ? metadata.name : `${metadata.namespace}/${metadata.name}`;
      super(manifest.apiVersion, manifest.kind, name, manifest, { ...options, labels: { ...metadata.labels }, annotations: { ...metadata.annotations } });
    }
  }
  export class Namespace extends Object {
    constructor(name: string, options: KubernetesOptions & { labels?: Record<string, string> } = {}) {
      const { labels, ...rest } = options;
      super({ apiVersion: "v1", kind: "Namespace", metadata: { name, ...(labels === undefined ? {} : { labels }) } }, rest);
    }
  }
  export class ConfigMap extends Object {
    constructor(namespace: string, name: string, data: Record<string, string>, options: KubernetesOptions = {}) {
      super({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace }, data }, options);
    }
  }
}

/** A claim of a platform composite kind (TeamDatabase, say), declared from a program. */
export class Claim<Spec = Record<string, unknown>> extends Declared {
  constructor(apiVersion: string, kind: string, name: string, spec: Spec, options?: ResourceOptions) {
    super(apiVersion, kind, name, spec, options);
  }
}

/** What a program's default export and a compose function receive. */
export interface StackContext {
  stack: string;
  environment: string | null;
  /** values.yaml merged with values.<environment>.yaml. */
  values: Record<string, unknown>;
  /** The Stack's compliance metadata (owner, costCenter, …). */
  metadata: Record<string, string>;
  labels: Record<string, string>;
}

/** The claim a compose function expands, with the schema's defaults filled in. */
export interface ClaimOf<Spec> {
  apiVersion: string;
  kind: string;
  name: string;
  address: string;
  labels: Record<string, string>;
  spec: Spec;
}

export interface CompositeExample<Spec> {
  title: string;
  name: string;
  spec: Spec;
}

export interface CompositeDefinition<Schema extends TSchema = TSchema> {
  /** group/version of the claims, e.g. platform.example.org/v1. */
  apiVersion: string;
  kind: string;
  /** What a team gets; the first paragraph of the generated docs. */
  description: string;
  /** The claim's spec, authored with TypeBox; defaults and descriptions go into the docs. */
  schema: Schema;
  examples?: CompositeExample<Static<Schema>>[];
  /** Declares the claim's children with the SDK's constructors (or other claims). */
  compose(claim: ClaimOf<Static<Schema>>, context: StackContext): void | Promise<void>;
}

export function defineComposite<Schema extends TSchema>(definition: CompositeDefinition<Schema>): CompositeDefinition<Schema> {
  return definition;
}

/** The default export of a `main.ts`. */
export type Program = (context: StackContext) => void | Promise<void>;

/** A resource as a policy rule sees it: plain data, output references already as `{ outputRef }`. */
export interface ResourceView {
  apiVersion: string;
  kind: string;
  name: string;
  address: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  spec: Record<string, unknown>;
}

/**
 * What a resource rule's check returns: nothing when the resource is fine, a
 * message when it is not, and for a remediate rule the fix as JSON pointers
 * into the spec (`{ "/connectionLimit": 20 }`), which the plan then shows.
 */
export type RuleResult = void | undefined | string | { message: string; fix?: Record<string, unknown> };

interface RuleBase {
  /** Lower-case letters, digits and dashes; reported as rule/<name>. */
  name: string;
  description: string;
  /** Kinds the rule looks at (Role, or postgres.plumb.dev/v1/Role); default all. */
  kinds?: string[];
}

export interface ResourceRule extends RuleBase {
  /** deny stops the sync; warn is reported; remediate applies the returned fix. */
  level: "deny" | "warn" | "remediate";
  scope?: "resource";
  check(resource: ResourceView, context: StackContext): RuleResult | Promise<RuleResult>;
}

export interface StackRule extends RuleBase {
  level: "deny" | "warn";
  scope: "stack";
  /** Sees every resource of the stack (those of `kinds`); returns the problems found. */
  check(resources: ResourceView[], context: StackContext): void | undefined | string | string[] | Promise<void | undefined | string | string[]>;
}

export type PolicyRule = ResourceRule | StackRule;

export function defineRule<Rule extends PolicyRule>(rule: Rule): Rule {
  return rule;
}
