// `plumb secrets`: age keys and encrypted files for secrets kept in Git, and
// `set` for a developer to write their own secret into a writable store
// (file, vault) from stdin — never from the command line, where it would sit
// in shell history and the process list.

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Command } from "commander";
import { PlumbError } from "../errors.js";
import { decryptWithIdentities, encryptForRecipients, generateAgeIdentity, parseSecretValues, readIdentities } from "../secrets/age.js";
import { action, secretStoresFrom } from "./context.js";

async function readInput(file: string | undefined): Promise<string> {
  if (file !== undefined && file !== "-") {
    try {
      return await readFile(file, "utf8");
    } catch (error) {
      throw new PlumbError("PLUMB_FILE_READ", `cannot read ${file}: ${(error as { code?: string }).code ?? (error as Error).message}`);
    }
  }
  if (process.stdin.isTTY === true) process.stderr.write("reading from stdin; end with Ctrl-D\n");
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

async function recipientsFrom(options: { recipient?: string[]; recipientsFile?: string }): Promise<string[]> {
  const recipients = [...(options.recipient ?? [])];
  if (options.recipientsFile !== undefined) {
    const text = await readInput(options.recipientsFile);
    recipients.push(
      ...text
        .split(/\r?\n/)
        .map((line) => line.trim())
        .filter((line) => line !== "" && !line.startsWith("#")),
    );
  }
  return recipients;
}

function identityFile(option: string | undefined): string {
  const file = option ?? process.env.PLUMB_AGE_IDENTITY_FILE;
  if (file === undefined) throw new PlumbError("PLUMB_USAGE", "no identity file", { hint: "pass --identity <file> or set PLUMB_AGE_IDENTITY_FILE" });
  return file;
}

async function writeOutput(text: string, output: string | undefined, mode: number): Promise<void> {
  if (output === undefined) process.stdout.write(text);
  else await writeFile(output, text, { mode });
}

export function registerSecrets(program: Command): void {
  const secrets = program.command("secrets").description("age-encrypted secrets in Git, and writing secrets into writable stores");
  const collect = (value: string, previous: string[] = []) => [...previous, value];

  secrets
    .command("keygen")
    .description("make an age identity (private key) and print its recipient (public key)")
    .option("-o, --output <file>", "where to write the identity (mode 0600; never overwritten)")
    .addHelpText("after", "\nExample:\n  $ plumb secrets keygen --output ~/.config/plumb/age.key   # prints age1…")
    .action(
      action(async (options: { output?: string }) => {
        if (options.output === undefined) {
          throw new PlumbError(
            "PLUMB_USAGE",
            "secrets keygen needs --output <file>: the file that will hold the new private key (mode 0600), which decrypts your secrets and must stay private",
            {
              hint: "e.g. plumb secrets keygen --output ~/.config/plumb/age.key; the public key (age1…) is printed for `secrets encrypt --recipient`",
            },
          );
        }
        if (existsSync(options.output))
          throw new PlumbError("PLUMB_USAGE", `${options.output} exists; it is not overwritten`, { hint: "choose another file, or remove it yourself" });
        const { identity, recipient } = await generateAgeIdentity();
        await writeFile(options.output, `# created: ${new Date().toISOString()}\n# public key: ${recipient}\n${identity}\n`, { mode: 0o600, flag: "wx" });
        process.stdout.write(`${recipient}\n`);
      }),
    );

  secrets
    .command("encrypt")
    .description("encrypt a YAML mapping of keys to values for one or more age recipients")
    .argument("[file]", "the plaintext (default stdin)")
    .option("-r, --recipient <age1…>", "a recipient; repeat for several readers", collect)
    .option("-R, --recipients-file <file>", "recipients, one per line")
    .option("-o, --output <file>", "where to write the armored age file (default stdout)")
    .addHelpText("after", "\nExample:\n  $ plumb secrets encrypt -r age1team… -r age1platform… -o secrets/orders-db.age values.yaml")
    .action(
      action(async (file: string | undefined, options: { recipient?: string[]; recipientsFile?: string; output?: string }) => {
        const recipients = await recipientsFrom(options);
        const plaintext = await readInput(file);
        parseSecretValues(plaintext, file ?? "stdin");
        await writeOutput(await encryptForRecipients(plaintext, recipients), options.output, 0o644);
      }),
    );

  secrets
    .command("decrypt")
    .description("print the plaintext of an age file")
    .argument("[file]", "the age file (default stdin)")
    .option("-i, --identity <file>", "the identity file (default $PLUMB_AGE_IDENTITY_FILE)")
    .addHelpText("after", "\nExample:\n  $ plumb secrets decrypt -i ~/.config/plumb/age.key secrets/orders-db.age")
    .action(
      action(async (file: string | undefined, options: { identity?: string }) => {
        const identities = await readIdentities(identityFile(options.identity));
        process.stdout.write(await decryptWithIdentities(await readInput(file), identities, file ?? "stdin"));
      }),
    );

  secrets
    .command("edit")
    .description("decrypt an age file into $EDITOR and encrypt the result again for the given recipients")
    .argument("<file>", "the age file (created when missing)")
    .option("-i, --identity <file>", "the identity file (default $PLUMB_AGE_IDENTITY_FILE)")
    .option("-r, --recipient <age1…>", "a recipient; repeat for several readers", collect)
    .option("-R, --recipients-file <file>", "recipients, one per line")
    .addHelpText("after", "\nExample:\n  $ EDITOR=nano plumb secrets edit secrets/orders-db.age -i age.key -R secrets/recipients.txt")
    .action(
      action(async (file: string, options: { identity?: string; recipient?: string[]; recipientsFile?: string }) => {
        const recipients = await recipientsFrom(options);
        const plaintext = existsSync(file)
          ? await decryptWithIdentities(await readFile(file, "utf8"), await readIdentities(identityFile(options.identity)), file)
          : "";
        const workspace = await mkdtemp(path.join(tmpdir(), "plumb-secrets-"));
        try {
          const draft = path.join(workspace, `${path.basename(file, ".age")}.yaml`);
          await writeFile(draft, plaintext, { mode: 0o600 });
          const editor = process.env.VISUAL ?? process.env.EDITOR ?? "vi";
          const edited = spawnSync("sh", ["-c", `${editor} "$1"`, "editor", draft], { stdio: "inherit" });
          if (edited.status !== 0)
            throw new PlumbError("PLUMB_USAGE", `the editor (${editor}) exited with ${edited.status ?? edited.signal}; ${file} is unchanged`);
          const text = await readFile(draft, "utf8");
          parseSecretValues(text, file);
          await writeFile(file, await encryptForRecipients(text, recipients), { mode: 0o644 });
        } finally {
          await rm(workspace, { recursive: true, force: true });
        }
      }),
    );

  secrets
    .command("set")
    .description("write one secret into a writable store (file, vault), reading the value from stdin")
    .argument("<store>", "a SecretStore of the platform directory")
    .argument("<name>", "the secret's name")
    .argument("<key>", "the key inside it")
    .option("--platform <dir>", "the platform directory declaring the store", process.env.PLUMB_PLATFORM)
    .addHelpText("after", "\nExample:\n  $ printf '%s' \"$NEW_PASSWORD\" | plumb secrets set vault orders-db password --platform platform/")
    .action(
      action(async (storeName: string, name: string, key: string, options: { platform?: string }) => {
        const store = (await secretStoresFrom(options.platform)).writable(storeName);
        const value = (await readInput(undefined)).replace(/\r?\n$/, "");
        if (value === "")
          throw new PlumbError("PLUMB_USAGE", "the value on stdin is empty; nothing was written", {
            hint: "pipe the value in: printf '%s' \"$VALUE\" | plumb secrets set …",
          });
        await store.set(name, key, value);
        process.stdout.write(`wrote ${name}/${key} to store ${storeName}\n`);
      }),
    );
}
