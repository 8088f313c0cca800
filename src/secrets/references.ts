// Secret references (`{ secretRef: { store, name, key } }`) and the built-in
// `local` store (an environment variable or a file). Values are resolved only
// in the process that applies, every value resolved is handed to the
// redaction layer, and only salted digests of them are ever stored.

import { createHmac } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { PlumbError } from "../errors.js";
import { redactedText, redactor } from "./redaction.js";
import type { JsonObject, JsonValue } from "../sdk/resource.js";

export { isSecretReference, secretReferenceSchema, type SecretReference, type SecretResolver } from "../sdk/secret-reference.js";
import { isSecretReference, type SecretReference, type SecretResolver } from "../sdk/secret-reference.js";

export function environmentVariableFor(reference: SecretReference): string {
  const part = (text: string) => text.toUpperCase().replace(/[^A-Z0-9]/g, "_");
  return `PLUMB_SECRET_${part(reference.secretRef.name)}_${part(reference.secretRef.key)}`;
}

/**
 * Looks a secret up in `PLUMB_SECRET_<NAME>_<KEY>`, then in the file
 * `<directory>/<name>/<key>` (one trailing newline dropped).
 */
export function localSecretResolver(
  environment: NodeJS.ProcessEnv = process.env,
  directory: string | undefined = environment.PLUMB_SECRETS_DIR,
): SecretResolver {
  return {
    async resolve(reference) {
      const variable = environmentVariableFor(reference);
      const fromEnvironment = environment[variable];
      if (fromEnvironment !== undefined) return remembered(fromEnvironment);
      const { name, key } = reference.secretRef;
      if (directory !== undefined) {
        try {
          return remembered((await readFile(path.join(directory, name, key), "utf8")).replace(/\r?\n$/, ""));
        } catch (error) {
          if (!(typeof error === "object" && error !== null && "code" in error && error.code === "ENOENT")) throw error;
        }
      }
      throw new PlumbError("PLUMB_SECRET_NOT_FOUND", `secret ${name}/${key} is not set`, {
        hint: `set the environment variable ${variable}${directory === undefined ? ", or point PLUMB_SECRETS_DIR at a directory holding " : " or write the file "}${directory === undefined ? `${name}/${key}` : path.join(directory, name, key)}`,
      });
    },
  };
}

/** Every value resolved reaches the redaction layer before anything else sees it. */
export function remembered(value: string): string {
  redactor.remember(value);
  return value;
}

/** A salted HMAC of a secret value: tells a rotated secret from an unchanged one without keeping it. */
export function secretDigest(salt: string, value: string): string {
  return `hmac-sha256:${createHmac("sha256", salt).update(value).digest("hex")}`;
}

/**
 * Returns `spec` with every secret reference carrying the digest of its
 * current value, salted with `salt` (the resource's stack and address).
 */
export async function withSecretDigests(spec: JsonObject, salt: string, resolver: SecretResolver): Promise<JsonObject> {
  const visit = async (value: JsonValue): Promise<JsonValue> => {
    if (isSecretReference(value)) {
      const resolved = await resolver.resolve(value);
      return { secretRef: { ...value.secretRef }, digest: secretDigest(salt, resolved) };
    }
    if (Array.isArray(value)) return Promise.all(value.map(visit));
    if (typeof value === "object" && value !== null) {
      const result: JsonObject = {};
      for (const [key, item] of Object.entries(value)) result[key] = await visit(item);
      return result;
    }
    return value;
  };
  return (await visit(spec)) as JsonObject;
}

export function containsSecretReference(value: unknown): boolean {
  if (isSecretReference(value)) return true;
  if (Array.isArray(value)) return value.some(containsSecretReference);
  if (typeof value === "object" && value !== null) return Object.values(value).some(containsSecretReference);
  return false;
}

const lastApplied = "kubectl.kubernetes.io/last-applied-configuration";

/**
 * A live object fit to show a person: where the desired spec holds a secret
 * reference the live value is replaced by that reference, and every value of
 * a Kubernetes Secret's data is hidden whether Git declared it or not.
 */
export function withoutSecretValues(live: JsonObject, desired: JsonObject, apiVersion: string, kind: string): JsonObject {
  const hide = (value: JsonValue, wanted: JsonValue | undefined): JsonValue => {
    if (isSecretReference(wanted)) return { secretRef: { ...wanted.secretRef } };
    if (Array.isArray(value)) return value.map((item, index) => hide(item, Array.isArray(wanted) ? wanted[index] : undefined));
    if (typeof value === "object" && value !== null) {
      const result: JsonObject = {};
      const wantedObject = typeof wanted === "object" && wanted !== null && !Array.isArray(wanted) ? wanted : {};
      for (const [key, item] of Object.entries(value)) result[key] = hide(item, wantedObject[key]);
      return result;
    }
    return value;
  };
  const shown = hide(live, desired) as JsonObject;
  if (apiVersion === "v1" && kind === "Secret") {
    for (const field of ["data", "stringData"]) {
      const values = shown[field];
      if (typeof values === "object" && values !== null && !Array.isArray(values))
        shown[field] = Object.fromEntries(Object.keys(values).map((key) => [key, redactedText]));
    }
    // `kubectl apply` keeps the whole Secret it applied, data included, in an annotation.
    const metadata = shown.metadata;
    const annotations = typeof metadata === "object" && metadata !== null && !Array.isArray(metadata) ? metadata.annotations : undefined;
    if (typeof annotations === "object" && annotations !== null && !Array.isArray(annotations) && lastApplied in annotations)
      annotations[lastApplied] = redactedText;
  }
  return shown;
}
