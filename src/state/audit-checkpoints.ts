// Signed checkpoints of the audit chain: the head (event count and last hash)
// signed with an Ed25519 key that the store never holds, written where the
// store's administrator cannot rewrite it (a directory on other storage,
// write-once files). Verification holds the chain against every checkpoint:
// events deleted, the head rewritten, the chain recomputed or the whole store
// replaced no longer match what was signed.

import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import { link, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { PlumbError } from "../errors.js";
import { makeDirectories } from "../make-directories.js";
import { canonicalJson, type AuditHead } from "./audit.js";

export interface AuditCheckpoint {
  version: 1;
  /** How many events the chain held when signed: the checkpoint covers #1 … #sequence. */
  sequence: number;
  /** The hash of event #sequence. */
  head: string;
  at: string;
  /** The signing key's fingerprint (SHA-256 of its public key, first 16 hex digits). */
  keyId: string;
  /** Ed25519 over the canonical JSON of the fields above, base64. */
  signature: string;
}

/** A checkpoint with where it was read from, for messages. */
export interface PlacedCheckpoint {
  checkpoint: AuditCheckpoint;
  file: string;
}

export function keyIdOf(publicKey: KeyObject): string {
  return createHash("sha256")
    .update(publicKey.export({ type: "spki", format: "der" }))
    .digest("hex")
    .slice(0, 16);
}

function signedBytes(checkpoint: Omit<AuditCheckpoint, "signature">): Buffer {
  const { version, sequence, head, at, keyId } = checkpoint;
  return Buffer.from(canonicalJson({ version, sequence, head, at, keyId }));
}

export function signCheckpoint(head: AuditHead, privateKey: KeyObject, now = new Date()): AuditCheckpoint {
  const unsigned = { version: 1 as const, sequence: head.count, head: head.hash, at: now.toISOString(), keyId: keyIdOf(createPublicKey(privateKey)) };
  return { ...unsigned, signature: sign(null, signedBytes(unsigned), privateKey).toString("base64") };
}

export function checkpointSignatureValid(checkpoint: AuditCheckpoint, publicKey: KeyObject): boolean {
  try {
    return checkpoint.keyId === keyIdOf(publicKey) && verify(null, signedBytes(checkpoint), publicKey, Buffer.from(checkpoint.signature, "base64"));
  } catch {
    return false;
  }
}

/** A new key pair, PEM: the private key for the agent (kept outside the store), the public one for the platform repository and auditors. */
export function generateAuditKeys(): { privateKey: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return {
    privateKey: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicKey: publicKey.export({ type: "spki", format: "pem" }).toString(),
  };
}

async function readKey(file: string, kind: "private" | "public"): Promise<KeyObject> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new PlumbError("PLUMB_USAGE", `cannot read the audit ${kind} key ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, {
      hint: "make a key pair with plumb audit keygen",
    });
  }
  return parseKey(text, file, kind);
}

/** A PEM key read from `where` (a file, a secret reference), checked to be Ed25519. */
export function parseKey(text: string, where: string, kind: "private" | "public"): KeyObject {
  let key: KeyObject;
  try {
    key = kind === "private" ? createPrivateKey(text) : createPublicKey(text);
  } catch {
    throw new PlumbError("PLUMB_USAGE", `${where} is not a PEM ${kind} key`, { hint: "make a key pair with plumb audit keygen" });
  }
  if (key.asymmetricKeyType !== "ed25519")
    throw new PlumbError("PLUMB_USAGE", `${where} is a ${key.asymmetricKeyType ?? "unknown"} key, not Ed25519`, {
      hint: "make a key pair with plumb audit keygen",
    });
  return key;
}

export const readPrivateKey = (file: string) => readKey(file, "private");
export const readPublicKey = (file: string) => readKey(file, "public");

const checkpointName = (checkpoint: AuditCheckpoint) => `${String(checkpoint.sequence).padStart(12, "0")}-${checkpoint.keyId}.json`;

/**
 * Writes a checkpoint as a new read-only file; an existing file of that name
 * is never replaced (another agent signed the same head). Returns the file, or
 * undefined when it was there already.
 */
export async function writeCheckpoint(directory: string, checkpoint: AuditCheckpoint): Promise<string | undefined> {
  await makeDirectories(directory);
  const file = path.join(directory, checkpointName(checkpoint));
  // Written whole under a temporary name, then linked into place: a process killed mid-write never leaves a
  // half checkpoint under the real name (which no later write could replace), and link never replaces a file.
  const partial = path.join(directory, `.${checkpointName(checkpoint)}.${process.pid}.partial`);
  await rm(partial, { force: true });
  await writeFile(partial, `${JSON.stringify(checkpoint)}\n`, { mode: 0o444 });
  try {
    await link(partial, file);
    return file;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return undefined;
    throw error;
  } finally {
    await rm(partial, { force: true });
  }
}

function isCheckpoint(value: unknown): value is AuditCheckpoint {
  if (typeof value !== "object" || value === null) return false;
  const item = value as Record<string, unknown>;
  return (
    item.version === 1 &&
    Number.isSafeInteger(item.sequence) &&
    (item.sequence as number) >= 0 &&
    typeof item.head === "string" &&
    typeof item.at === "string" &&
    typeof item.keyId === "string" &&
    typeof item.signature === "string"
  );
}

/** Every checkpoint in the directory, oldest first; a file that is not one is an error naming it. */
export async function readCheckpoints(directory: string): Promise<PlacedCheckpoint[]> {
  let names: string[];
  try {
    names = (await readdir(directory)).filter((name) => name.endsWith(".json")).sort();
  } catch (error) {
    throw new PlumbError("PLUMB_USAGE", `cannot read the checkpoint directory ${directory}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, {
      hint: "give the directory the agent writes its checkpoints to (--audit-checkpoints)",
    });
  }
  const placed: PlacedCheckpoint[] = [];
  for (const name of names) {
    const file = path.join(directory, name);
    let value: unknown;
    try {
      value = JSON.parse(await readFile(file, "utf8"));
    } catch {
      value = undefined;
    }
    if (!isCheckpoint(value))
      throw new PlumbError("PLUMB_STORE_CORRUPT", `${file} is not an audit checkpoint`, { hint: "checkpoints are never edited; restore it from a copy" });
    placed.push({ checkpoint: value, file });
  }
  return placed.sort((left, right) => left.checkpoint.sequence - right.checkpoint.sequence);
}

/**
 * Checks each checkpoint's signature; returns the problem with the first that
 * the public key did not sign (a forged or edited checkpoint), or undefined.
 */
export function forgedCheckpoint(checkpoints: readonly PlacedCheckpoint[], publicKey: KeyObject): string | undefined {
  const forged = checkpoints.find(({ checkpoint }) => !checkpointSignatureValid(checkpoint, publicKey));
  return forged === undefined
    ? undefined
    : `checkpoint ${forged.file} (event #${forged.checkpoint.sequence}) is not signed by the public key given: forged or edited`;
}
