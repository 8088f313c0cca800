// A reference to a secret, as specs and provider configs write it, and what
// resolves one: ground-level nouns the provider contract and the secret
// stores share (the value itself never leaves the resolver's caller).

import { Type, type Static } from "@sinclair/typebox";

const segment = Type.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]{0,126}$", description: "Letters, digits, '.', '_' and '-'." });
export const secretReferenceSchema = Type.Object(
  {
    secretRef: Type.Object({ store: Type.Optional(segment), name: segment, key: segment }, { additionalProperties: false }),
    /** Added by Plumb before planning: a salted digest of the value, never the value. */
    digest: Type.Optional(Type.String()),
  },
  { additionalProperties: false, description: "A reference to a secret: { secretRef: { store, name, key } }; store defaults to the platform's default store." },
);

export type SecretReference = Static<typeof secretReferenceSchema>;

export function isSecretReference(value: unknown): value is SecretReference {
  return typeof value === "object" && value !== null && !Array.isArray(value) && "secretRef" in value;
}

export interface SecretResolver {
  resolve(reference: SecretReference): Promise<string>;
}
