// The `plumb/sdk` module that stack programs (`main.ts`) and platform
// composites import: typed constructors for every provider kind, output
// references between resources, and `defineComposite`. Spec types come from
// the providers' TypeBox schemas, so an invalid property is a type error in
// the editor and a schema error with the program's file:line at render time.

import type { Static, TSchema } from "@sinclair/typebox";
import type { ContainerSpec } from "../providers/azure-blob/container.js";
import type { DirectorySpec } from "../providers/file/directory.js";
import type { FileSpec } from "../providers/file/file.js";
import type { DatabaseSpec } from "../providers/postgres/database.js";
import type { DefaultPrivilegesSpec } from "../providers/postgres/default-privileges.js";
import type { ExtensionSpec } from "../providers/postgres/extension.js";
import type { GrantSpec } from "../providers/postgres/grant.js";
import type { RoleSpec } from "../providers/postgres/role.js";
import type { SchemaSpec } from "../providers/postgres/schema.js";
import type { RoleSpec as MysqlRoleSpec, UserSpec as MysqlUserSpec } from "../providers/mysql/accounts.js";
import type { DatabaseSpec as MysqlDatabaseSpec } from "../providers/mysql/database.js";
import type { GrantSpec as MysqlGrantSpec } from "../providers/mysql/grant.js";
import type { PermissionSpec as RabbitmqPermissionSpec, UserSpec as RabbitmqUserSpec } from "../providers/rabbitmq/access.js";
import type { BindingSpec, ExchangeSpec, PolicySpec, QueueSpec } from "../providers/rabbitmq/topology.js";
import type { VhostSpec } from "../providers/rabbitmq/vhost.js";
import type { UserSpec as RedisUserSpec } from "../providers/redis/user.js";
import type { BucketPolicySpec } from "../providers/s3/bucket-policy.js";
import type { BucketSpec } from "../providers/s3/bucket.js";
import { Declared, type Inputs, type Output, type ResourceOptions } from "./declared.js";

export { Type } from "@sinclair/typebox";
export type { Static, TSchema };

export { Declared, Output, type Inputs, type ResourceOptions } from "./declared.js";

abstract class ProviderResource<Spec> extends Declared {
  constructor(apiVersion: string, kind: string, name: string, spec: Inputs<Spec>, options?: ResourceOptions) {
    super(apiVersion, kind, name, spec, options);
  }
}

abstract class NamedObject<Spec> extends ProviderResource<Spec> {
  /** The object's name in its system. */
  get name(): Output<string> {
    return this.output("name");
  }
}

const postgresApi = "postgres.plumb.dev/v1";
const fileApi = "file.plumb.dev/v1";
const redisApi = "redis.plumb.dev/v1";
const mysqlApi = "mysql.plumb.dev/v1";
const rabbitmqApi = "rabbitmq.plumb.dev/v1";
const s3Api = "s3.plumb.dev/v1";
const azureBlobApi = "azure-blob.plumb.dev/v1";

// Namespaces give programs `new postgres.Role(…)`, the shape Pulumi users know, with a type per kind.
// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace postgres {
  export class Role extends NamedObject<RoleSpec> {
    constructor(name: string, spec: Inputs<RoleSpec> = {}, options?: ResourceOptions) {
      super(postgresApi, "Role", name, spec, options);
    }
  }
  export class Database extends NamedObject<DatabaseSpec> {
    constructor(name: string, spec: Inputs<DatabaseSpec> = {}, options?: ResourceOptions) {
      super(postgresApi, "Database", name, spec, options);
    }
  }
  export class Schema extends NamedObject<SchemaSpec> {
    constructor(name: string, spec: Inputs<SchemaSpec>, options?: ResourceOptions) {
      super(postgresApi, "Schema", name, spec, options);
    }
  }
  export class Extension extends NamedObject<ExtensionSpec> {
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

// MariaDB (and MySQL) objects: `new mysql.Database(…)`.
// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace mysql {
  export class Database extends NamedObject<MysqlDatabaseSpec> {
    constructor(name: string, spec: Inputs<MysqlDatabaseSpec> = {}, options?: ResourceOptions) {
      super(mysqlApi, "Database", name, spec, options);
    }
  }
  export class User extends NamedObject<MysqlUserSpec> {
    constructor(name: string, spec: Inputs<MysqlUserSpec> = {}, options?: ResourceOptions) {
      super(mysqlApi, "User", name, spec, options);
    }
    /** Where the user may connect from. */
    get host(): Output<string> {
      return this.output("host");
    }
  }
  export class Role extends NamedObject<MysqlRoleSpec> {
    constructor(name: string, spec: Inputs<MysqlRoleSpec> = {}, options?: ResourceOptions) {
      super(mysqlApi, "Role", name, spec, options);
    }
  }
  export class Grant extends ProviderResource<MysqlGrantSpec> {
    constructor(name: string, spec: Inputs<MysqlGrantSpec>, options?: ResourceOptions) {
      super(mysqlApi, "Grant", name, spec, options);
    }
  }
}

// RabbitMQ objects: `new rabbitmq.Queue(…)`.
// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace rabbitmq {
  export class VHost extends NamedObject<VhostSpec> {
    constructor(name: string, spec: Inputs<VhostSpec> = {}, options?: ResourceOptions) {
      super(rabbitmqApi, "VHost", name, spec, options);
    }
  }
  export class User extends NamedObject<RabbitmqUserSpec> {
    constructor(name: string, spec: Inputs<RabbitmqUserSpec> = {}, options?: ResourceOptions) {
      super(rabbitmqApi, "User", name, spec, options);
    }
  }
  export class Permission extends ProviderResource<RabbitmqPermissionSpec> {
    constructor(name: string, spec: Inputs<RabbitmqPermissionSpec>, options?: ResourceOptions) {
      super(rabbitmqApi, "Permission", name, spec, options);
    }
  }
  export class Exchange extends NamedObject<ExchangeSpec> {
    constructor(name: string, spec: Inputs<ExchangeSpec>, options?: ResourceOptions) {
      super(rabbitmqApi, "Exchange", name, spec, options);
    }
  }
  export class Queue extends NamedObject<QueueSpec> {
    constructor(name: string, spec: Inputs<QueueSpec>, options?: ResourceOptions) {
      super(rabbitmqApi, "Queue", name, spec, options);
    }
  }
  export class Binding extends ProviderResource<BindingSpec> {
    constructor(name: string, spec: Inputs<BindingSpec>, options?: ResourceOptions) {
      super(rabbitmqApi, "Binding", name, spec, options);
    }
  }
  export class Policy extends NamedObject<PolicySpec> {
    constructor(name: string, spec: Inputs<PolicySpec>, options?: ResourceOptions) {
      super(rabbitmqApi, "Policy", name, spec, options);
    }
  }
}

// S3 buckets: `new s3.Bucket(…)`.
// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace s3 {
  export class Bucket extends NamedObject<BucketSpec> {
    constructor(name: string, spec: Inputs<BucketSpec> = {}, options?: ResourceOptions) {
      super(s3Api, "Bucket", name, spec, options);
    }
  }
  export class BucketPolicy extends ProviderResource<BucketPolicySpec> {
    constructor(name: string, spec: Inputs<BucketPolicySpec>, options?: ResourceOptions) {
      super(s3Api, "BucketPolicy", name, spec, options);
    }
  }
}

// Azure Blob Storage containers: `new azureBlob.Container(…)`.
// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace azureBlob {
  export class Container extends NamedObject<ContainerSpec> {
    constructor(name: string, spec: Inputs<ContainerSpec> = {}, options?: ResourceOptions) {
      super(azureBlobApi, "Container", name, spec, options);
    }
  }
}

// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace redis {
  /** A Redis ACL user. */
  export class User extends NamedObject<RedisUserSpec> {
    constructor(name: string, spec: Inputs<RedisUserSpec> = {}, options?: ResourceOptions) {
      super(redisApi, "User", name, spec, options);
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

export { k8s } from "./kubernetes-kinds.js";
export type * from "./kubernetes-kinds.js";
export type { ClusterScoped, KubernetesManifest, KubernetesOptions, Namespaced } from "./kubernetes-object.js";

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
