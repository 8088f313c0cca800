// Secret stores declared in the platform repository (`kind: SecretStore`):
// env, file, age (values encrypted for several recipients and committed to
// Git) and vault (HashiCorp Vault KV v2). References pick a store by name; the
// built-in `local` store (PLUMB_SECRET_* variables, PLUMB_SECRETS_DIR files)
// is the default unless the platform marks another one.

import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { Type, type Static } from "@sinclair/typebox";
import { PlumbError } from "../errors.js";
import { checkAgainstSchema } from "../schema-check.js";
import { AgeStore } from "./age.js";
import { environmentVariableFor, localSecretResolver, remembered, secretReferenceSchema, type SecretReference, type SecretResolver } from "./references.js";
import { VaultStore } from "./vault.js";

export const secretStoreKind = "SecretStore";
export const localStoreName = "local";

/** One place secrets live. `set` exists for stores a person may write to (`plumb secrets set`). */
export interface SecretStore {
  readonly name: string;
  readonly type: string;
  get(name: string, key: string): Promise<string>;
  set?(name: string, key: string, value: string): Promise<void>;
}

const reference = secretReferenceSchema;

export const secretStoreSchema = Type.Object(
  {
    apiVersion: Type.Literal("plumb.dev/v1"),
    kind: Type.Literal(secretStoreKind),
    metadata: Type.Object({ name: Type.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$" }) }, { additionalProperties: true }),
    spec: Type.Object(
      {
        type: Type.Union([Type.Literal("env"), Type.Literal("file"), Type.Literal("age"), Type.Literal("vault")]),
        default: Type.Optional(Type.Boolean({ description: "References without a store use this one." })),
        prefix: Type.Optional(Type.String({ pattern: "^[A-Z][A-Z0-9_]*$", description: "env: variable prefix; default PLUMB_SECRET_." })),
        directory: Type.Optional(
          Type.String({
            minLength: 1,
            description: "file: where <name>/<key> files are; age: where <name>.age files are; both relative to the platform directory.",
          }),
        ),
        identityFile: Type.Optional(Type.String({ minLength: 1, description: "age: the identity (private key) file; default $PLUMB_AGE_IDENTITY_FILE." })),
        address: Type.Optional(Type.String({ pattern: "^https?://", description: "vault: e.g. https://vault.example.org:8200" })),
        mount: Type.Optional(Type.String({ pattern: "^[A-Za-z0-9_.-]+$", description: "vault: the KV v2 mount; default secret." })),
        pathPrefix: Type.Optional(Type.String({ pattern: "^([A-Za-z0-9_.-]+/)*$", description: "vault: put before every name, e.g. teams/." })),
        namespace: Type.Optional(Type.String({ description: "vault: X-Vault-Namespace (Vault Enterprise)." })),
        auth: Type.Optional(
          Type.Union([
            Type.Object({ token: reference }, { additionalProperties: false }),
            Type.Object(
              {
                appRole: Type.Object(
                  { roleId: Type.String({ minLength: 1 }), secretId: reference, mount: Type.Optional(Type.String({ pattern: "^[A-Za-z0-9_.-]+$" })) },
                  { additionalProperties: false },
                ),
              },
              { additionalProperties: false },
            ),
          ]),
        ),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: true },
);

export type SecretStoreDocument = Static<typeof secretStoreSchema>;

/** Problems of one SecretStore document, as schema-style problems (path + message). */
export function checkSecretStoreDocument(value: unknown): { path: (string | number)[]; message: string; hint?: string }[] {
  const problems = checkAgainstSchema(secretStoreSchema, value);
  if (problems.length > 0) return problems;
  const { spec, metadata } = value as SecretStoreDocument;
  const need = (field: keyof SecretStoreDocument["spec"]) =>
    spec[field] === undefined ? [{ path: ["spec", field], message: `a ${spec.type} store needs spec.${field}` }] : [];
  if (metadata.name === localStoreName) return [{ path: ["metadata", "name"], message: `"${localStoreName}" is the built-in store's name` }];
  if (spec.type === "file") return need("directory");
  if (spec.type === "age") return need("directory");
  if (spec.type === "vault") return [...need("address"), ...need("auth")];
  return [];
}

class EnvironmentStore implements SecretStore {
  readonly type = "env";
  constructor(
    readonly name: string,
    private readonly prefix: string,
  ) {}

  async get(name: string, key: string): Promise<string> {
    const variable = environmentVariableFor({ secretRef: { name, key } }).replace(/^PLUMB_SECRET_/, this.prefix);
    const value = process.env[variable];
    if (value === undefined)
      throw new PlumbError("PLUMB_SECRET_NOT_FOUND", `secret ${name}/${key} is not set in store ${this.name}`, {
        hint: `set the environment variable ${variable}`,
      });
    return value;
  }
}

const segment = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,126}$/;

class FileStore implements SecretStore {
  readonly type = "file";
  constructor(
    readonly name: string,
    private readonly directory: string,
  ) {}

  private file(name: string, key: string): string {
    if (!segment.test(name) || !segment.test(key))
      throw new PlumbError("PLUMB_USAGE", `"${name}/${key}" is not a secret name and key`, { hint: "use letters, digits, '.', '_' and '-'" });
    return path.join(this.directory, name, key);
  }

  async get(name: string, key: string): Promise<string> {
    try {
      return (await readFile(this.file(name, key), "utf8")).replace(/\r?\n$/, "");
    } catch (error) {
      if ((error as { code?: string }).code !== "ENOENT") throw error;
      throw new PlumbError("PLUMB_SECRET_NOT_FOUND", `secret ${name}/${key} is not in store ${this.name}`, {
        hint: `write it with: plumb secrets set ${this.name} ${name} ${key} < value-file`,
      });
    }
  }

  async set(name: string, key: string, value: string): Promise<void> {
    const file = this.file(name, key);
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const temporary = `${file}.plumb-tmp`;
    await writeFile(temporary, value, { mode: 0o600 });
    await rename(temporary, file);
  }
}

/** Every store by name; resolves references, and hands each value to the redaction layer. */
export class SecretStores implements SecretResolver {
  private readonly stores = new Map<string, SecretStore | SecretResolver>();

  constructor(
    documents: readonly SecretStoreDocument[],
    context: { platformDirectory: string },
    private readonly local: SecretResolver = localSecretResolver(),
  ) {
    this.stores.set(localStoreName, local);
    let defaultName = localStoreName;
    for (const { metadata, spec } of documents) {
      if (spec.default === true) defaultName = metadata.name;
      this.stores.set(metadata.name, this.create(metadata.name, spec, context.platformDirectory));
    }
    this.defaultName = defaultName;
  }

  readonly defaultName: string;

  private create(name: string, spec: SecretStoreDocument["spec"], platformDirectory: string): SecretStore {
    switch (spec.type) {
      case "env":
        return new EnvironmentStore(name, spec.prefix ?? "PLUMB_SECRET_");
      case "file":
        // Relative to the platform directory, like the age store's: never to wherever the process started.
        return new FileStore(name, path.resolve(platformDirectory, spec.directory as string));
      case "age":
        return new AgeStore(name, path.resolve(platformDirectory, spec.directory as string), spec.identityFile ?? process.env.PLUMB_AGE_IDENTITY_FILE);
      case "vault":
        return new VaultStore(
          name,
          {
            address: spec.address as string,
            mount: spec.mount ?? "secret",
            pathPrefix: spec.pathPrefix ?? "",
            ...(spec.namespace === undefined ? {} : { namespace: spec.namespace }),
            auth: spec.auth as NonNullable<SecretStoreDocument["spec"]["auth"]>,
          },
          (credential: SecretReference) => {
            if (credential.secretRef.store === name)
              throw new PlumbError("PLUMB_SECRET_STORE", `store ${name} cannot hold its own credentials`, {
                hint: "keep the Vault token or AppRole secret id in another store, e.g. local",
              });
            return this.resolve(credential);
          },
        );
    }
  }

  storeNames(): string[] {
    return [...this.stores.keys()];
  }

  /** A writable store by name, or an error that says which are. */
  writable(name: string): SecretStore & Required<Pick<SecretStore, "set">> {
    const store = this.stores.get(name);
    if (store === undefined)
      throw new PlumbError("PLUMB_SECRET_STORE", `there is no secret store "${name}"`, { hint: `stores: ${this.storeNames().join(", ")}` });
    if (!("set" in store) || store.set === undefined) {
      const type = "type" in store ? store.type : "local";
      throw new PlumbError("PLUMB_SECRET_STORE", `store ${name} (${type}) cannot be written by Plumb`, {
        hint: type === "age" ? "edit the encrypted file with plumb secrets edit and commit it" : "write to a file or vault store",
      });
    }
    return store as SecretStore & Required<Pick<SecretStore, "set">>;
  }

  async resolve(secret: SecretReference): Promise<string> {
    const name = secret.secretRef.store ?? this.defaultName;
    const store = this.stores.get(name);
    if (store === undefined) {
      throw new PlumbError(
        "PLUMB_SECRET_STORE",
        `secret ${secret.secretRef.name}/${secret.secretRef.key} names store "${name}", which the platform does not declare`,
        { hint: `stores: ${this.storeNames().join(", ")}` },
      );
    }
    if (store === this.local) return this.local.resolve(secret);
    return remembered(await (store as SecretStore).get(secret.secretRef.name, secret.secretRef.key));
  }
}
