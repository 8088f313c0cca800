// age-encrypted secrets committed to Git: `<directory>/<name>.age` holds an
// armored age file whose plaintext is a YAML mapping of keys to values,
// encrypted for several recipients (a team and the platform can both read
// it). The agent holds one identity. `plumb secrets` makes and edits them.

import { readFile } from "node:fs/promises";
import path from "node:path";
import * as age from "age-encryption";
import jsYaml from "js-yaml";
import { PlumbError } from "../errors.js";
import type { SecretStore } from "./stores.js";

const recipientPattern = /^age1[0-9a-z]{58}$/;

export async function generateAgeIdentity(): Promise<{ identity: string; recipient: string }> {
  const identity = await age.generateX25519Identity();
  return { identity, recipient: await age.identityToRecipient(identity) };
}

/** The identities in an identity file (age's format: one per line, # comments). */
export async function readIdentities(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new PlumbError(
      "PLUMB_SECRET_DECRYPT",
      `cannot read the age identity file ${file}: ${(error as { code?: string }).code ?? (error as Error).message}`,
      { hint: "make one with plumb secrets keygen --output <file>" },
    );
  }
  const identities = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.startsWith("AGE-SECRET-KEY-"));
  if (identities.length === 0)
    throw new PlumbError("PLUMB_SECRET_DECRYPT", `${file} holds no age identity (a line starting AGE-SECRET-KEY-)`, {
      hint: "make one with plumb secrets keygen --output <file>",
    });
  return identities;
}

/** Checks recipients before encrypting, so a typo fails with its position, not deep inside age. */
export function checkRecipients(recipients: readonly string[]): void {
  if (recipients.length === 0)
    throw new PlumbError("PLUMB_USAGE", "no recipients", { hint: "pass --recipient age1… (several for several readers) or --recipients-file" });
  recipients.forEach((recipient, index) => {
    if (!recipientPattern.test(recipient))
      throw new PlumbError("PLUMB_USAGE", `recipient ${index + 1} is not an age X25519 recipient (age1 followed by 58 characters)`, {
        hint: "copy it from the output of plumb secrets keygen",
      });
  });
}

/** Parses a plaintext secrets document: a mapping of keys to string values. */
export function parseSecretValues(text: string, where: string): Record<string, string> {
  let value: unknown;
  try {
    value = jsYaml.load(text, { schema: jsYaml.CORE_SCHEMA });
  } catch (error) {
    throw new PlumbError("PLUMB_SECRET_DECRYPT", `${where} is not YAML: ${(error as Error).message.split("\n")[0] ?? ""}`, {
      hint: "write one `key: value` per line",
    });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new PlumbError("PLUMB_SECRET_DECRYPT", `${where} must be a mapping of keys to values`, { hint: "write one `key: value` per line" });
  const result: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== "string" && typeof item !== "number" && typeof item !== "boolean")
      throw new PlumbError("PLUMB_SECRET_DECRYPT", `${where}: the value of ${key} must be text`, { hint: "quote it" });
    result[key] = String(item);
  }
  return result;
}

export async function encryptForRecipients(plaintext: string, recipients: readonly string[]): Promise<string> {
  checkRecipients(recipients);
  const encrypter = new age.Encrypter();
  for (const recipient of recipients) encrypter.addRecipient(recipient);
  return age.armor.encode(await encrypter.encrypt(plaintext));
}

export async function decryptWithIdentities(ciphertext: string, identities: readonly string[], where: string): Promise<string> {
  let bytes: Uint8Array;
  try {
    bytes = ciphertext.includes("-----BEGIN AGE ENCRYPTED FILE-----") ? age.armor.decode(ciphertext) : new TextEncoder().encode(ciphertext);
  } catch (error) {
    throw new PlumbError("PLUMB_SECRET_DECRYPT", `${where} is not an age file: ${(error as Error).message}`, { hint: "make it with plumb secrets encrypt" });
  }
  const decrypter = new age.Decrypter();
  for (const identity of identities) decrypter.addIdentity(identity);
  try {
    return await decrypter.decrypt(bytes, "text");
  } catch (error) {
    const message = (error as Error).message;
    throw new PlumbError(
      "PLUMB_SECRET_DECRYPT",
      /no identity matched/.test(message) ? `${where} was not encrypted for this identity` : `cannot decrypt ${where}: ${message}`,
      {
        hint: /no identity matched/.test(message)
          ? "use an identity whose recipient was given to plumb secrets encrypt, or re-encrypt the file for this identity's recipient"
          : "the file may be damaged; encrypt it again",
      },
    );
  }
}

export class AgeStore implements SecretStore {
  readonly type = "age";
  private identities: Promise<string[]> | undefined;

  constructor(
    readonly name: string,
    private readonly directory: string,
    private readonly identityFile: string | undefined,
  ) {}

  async get(name: string, key: string): Promise<string> {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,126}$/.test(name)) throw new PlumbError("PLUMB_USAGE", `"${name}" is not a secret name`);
    if (this.identityFile === undefined)
      throw new PlumbError("PLUMB_SECRET_DECRYPT", `store ${this.name} has no identity to decrypt with`, {
        hint: "set spec.identityFile on the SecretStore or PLUMB_AGE_IDENTITY_FILE",
      });
    this.identities ??= readIdentities(this.identityFile);
    const file = path.join(this.directory, `${name}.age`);
    let ciphertext: string;
    try {
      ciphertext = await readFile(file, "utf8");
    } catch {
      throw new PlumbError("PLUMB_SECRET_NOT_FOUND", `store ${this.name} has no ${name}.age`, {
        hint: `encrypt one: plumb secrets encrypt --recipient age1… --output ${file} values.yaml`,
      });
    }
    const values = parseSecretValues(await decryptWithIdentities(ciphertext, await this.identities, `${name}.age`), `${name}.age`);
    const value = values[key];
    if (value === undefined)
      throw new PlumbError("PLUMB_SECRET_NOT_FOUND", `${name}.age in store ${this.name} has no key ${key}`, {
        hint: `its keys: ${Object.keys(values).join(", ") || "(none)"}`,
      });
    return value;
  }
}
