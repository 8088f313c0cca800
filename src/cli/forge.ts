// Talking to a forge (GitHub and GitHub Enterprise, GitLab, Gitea/Forgejo)
// through its documented REST API: which forge an address belongs to, the
// token from the environment (never in a message), and one call helper whose
// errors say what was refused without echoing what was sent.

import { PlumbError } from "../errors.js";

export type Forge = "github" | "gitlab" | "gitea";

/** Where the token for each forge is read from, first match wins. */
export const tokenVariables: Record<Forge, string[]> = {
  github: ["PLUMB_FORGE_TOKEN", "GITHUB_TOKEN"],
  gitlab: ["PLUMB_FORGE_TOKEN", "GITLAB_TOKEN", "CI_JOB_TOKEN"],
  gitea: ["PLUMB_FORGE_TOKEN", "GITEA_TOKEN", "FORGEJO_TOKEN"],
};

/** A forge and the thing on it a command works with, for messages. */
export interface ForgeTarget {
  forge: Forge;
  /** The address the person gave. */
  url: string;
  /** What the token must allow, for the hint of a refusal: "comment", "open pull requests". */
  purpose: string;
}

export function isForge(value: string | undefined): value is Forge {
  return value === "github" || value === "gitlab" || value === "gitea";
}

function headers(forge: Forge, token: string): Record<string, string> {
  const common = { "content-type": "application/json", accept: "application/json", "user-agent": "plumb" };
  if (forge === "gitlab") return { ...common, "private-token": token };
  if (forge === "github") return { ...common, authorization: `Bearer ${token}`, accept: "application/vnd.github+json", "x-github-api-version": "2022-11-28" };
  return { ...common, authorization: `token ${token}` };
}

export async function forgeCall(target: ForgeTarget, token: string, method: string, url: string, body?: unknown): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: headers(target.forge, token),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
      redirect: "error",
    });
  } catch (error) {
    throw new PlumbError("PLUMB_FORGE", `cannot reach ${new URL(url).origin} for ${target.url}: ${error instanceof Error ? error.message : String(error)}`, {
      hint: "check the address and the network; set PLUMB_FORGE_API if the API is elsewhere",
    });
  }
  const text = await response.text();
  if (!response.ok) {
    const reason =
      response.status === 401 || response.status === 403
        ? "the token was refused"
        : response.status === 404
          ? "not found (or the token cannot see it)"
          : response.status === 409 || response.status === 422
            ? `HTTP ${response.status}: it conflicts with what is there (a pull request for this branch already open?)`
            : `HTTP ${response.status}`;
    throw new PlumbError("PLUMB_FORGE", `${target.forge} answered ${method} ${new URL(url).pathname} with ${reason}`, {
      hint: `give a token with the right to ${target.purpose} in ${tokenVariables[target.forge].join(" or ")}`,
    });
  }
  try {
    return text === "" ? {} : (JSON.parse(text) as unknown);
  } catch {
    throw new PlumbError("PLUMB_FORGE", `${target.forge} answered ${method} ${new URL(url).pathname} with something that is not JSON`);
  }
}

/** The forge's token from the environment; `flag` names the option that needs it. */
export function forgeToken(forge: Forge, flag: string, environment: NodeJS.ProcessEnv = process.env): string {
  for (const name of tokenVariables[forge]) {
    const value = environment[name];
    if (value !== undefined && value !== "") return value;
  }
  throw new PlumbError("PLUMB_USAGE", `${flag} needs a token for ${forge}`, { hint: `set ${tokenVariables[forge].join(" or ")}` });
}

/** The REST API's base address for a forge on `origin` (PLUMB_FORGE_API overrides it). */
export function forgeApi(forge: Forge, url: URL, environment: NodeJS.ProcessEnv): string {
  const override = environment.PLUMB_FORGE_API?.replace(/\/+$/, "");
  if (override !== undefined && override !== "") return override;
  if (forge === "gitlab") return `${url.origin}/api/v4`;
  if (forge === "gitea") return `${url.origin}/api/v1`;
  return url.hostname === "github.com" ? "https://api.github.com" : `${url.origin}/api/v3`;
}
