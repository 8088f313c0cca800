// What a provider plug-in is handed: its default export receives this object
// and returns its provider. A plug-in imports nothing of Plumb's at run time
// (only `import type` for these types), so it runs against the agent's own copy.

import { Type } from "@sinclair/typebox";
import { PlumbError } from "../errors.js";
import { defineKind, defineProvider } from "./provider.js";

export const providerSdk = {
  defineProvider,
  defineKind,
  /** TypeBox, for the config and spec schemas. */
  Type,
  /** Errors with a stable code, a message and a hint, as Plumb's own providers throw them. */
  PlumbError,
};

export type ProviderSdk = typeof providerSdk;

export type { AnyProvider, KindHandler, LiveObject, ProviderDefinition, Target, ConnectContext, Health } from "./provider.js";
