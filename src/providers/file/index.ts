// The `file` provider (file.plumb.dev/v1): files and directories below one root
// directory per provider instance.

import { realpath } from "node:fs/promises";
import path from "node:path";
import { Type, type Static } from "@sinclair/typebox";
import { PlumbError } from "../../errors.js";
import { makeDirectories } from "../../make-directories.js";
import { defineProvider } from "../../sdk/provider.js";
import { directoryKind } from "./directory.js";
import { fileKind } from "./file.js";
import { isMissing } from "./paths.js";

export const fileProviderConfig = Type.Object(
  {
    root: Type.String({
      minLength: 1,
      description: "Directory every path is relative to. A relative root is resolved against the working directory of the plumb process.",
    }),
  },
  { additionalProperties: false },
);

export type FileProviderConfig = Static<typeof fileProviderConfig>;

export interface FileConnection {
  /** The root as configured, made absolute. */
  configuredRoot: string;
  /** The root with its own symlinks resolved once, so a root that is itself a link still works. */
  root: string;
  /** Creates the root on first write (plan never creates anything). */
  ensureRoot(): Promise<void>;
}

export const fileProvider = defineProvider<FileProviderConfig, FileConnection>({
  type: "file",
  group: "file.plumb.dev",
  version: "v1",
  configSchema: fileProviderConfig,
  async connect(config, context) {
    const configuredRoot = path.resolve(config.root);
    let root = configuredRoot;
    try {
      root = await realpath(configuredRoot);
    } catch (error) {
      if (!isMissing(error)) {
        throw new PlumbError("PLUMB_PROVIDER_CONFIG", `cannot use root "${config.root}" for provider instance "${context.instance}": ${String(error)}`, {
          location: { stack: context.stack },
          hint: "point `root` at a directory the plumb process can read and write",
        });
      }
    }
    return {
      configuredRoot,
      root,
      async ensureRoot() {
        await makeDirectories(root);
      },
    };
  },
  kinds: [fileKind, directoryKind],
});
