// Posts a plan on a pull request as one comment and keeps it current: the
// comment carries a hidden marker per stack, and the next plan edits that
// comment instead of adding another. GitHub (and GitHub Enterprise), GitLab
// and Gitea/Forgejo, through their documented REST APIs; the token comes from
// the environment and never appears in a message.

import { PlumbError } from "../errors.js";

export type Forge = "github" | "gitlab" | "gitea";

export interface PullRequest {
  forge: Forge;
  /** The API's base URL: https://api.github.com, https://host/api/v3, https://host/api/v4, https://host/api/v1. */
  api: string;
  /** The comments collection of the pull request. */
  comments: string;
  /** The URL as given, for messages. */
  url: string;
}

/** Where the token for each forge is read from, first match wins. */
export const tokenVariables: Record<Forge, string[]> = {
  github: ["PLUMB_FORGE_TOKEN", "GITHUB_TOKEN"],
  gitlab: ["PLUMB_FORGE_TOKEN", "GITLAB_TOKEN", "CI_JOB_TOKEN"],
  gitea: ["PLUMB_FORGE_TOKEN", "GITEA_TOKEN", "FORGEJO_TOKEN"],
};

function usage(url: string, why: string): PlumbError {
  return new PlumbError("PLUMB_USAGE", `--comment ${url}: ${why}`, {
    hint: "give the pull request's web address: https://github.com/<owner>/<repo>/pull/<n>, https://<gitlab>/<group>/<project>/-/merge_requests/<n> or https://<gitea>/<owner>/<repo>/pulls/<n>; PLUMB_FORGE_API overrides the API address",
  });
}

/**
 * Reads a pull request's web address. The forge is told by the path's shape
 * (GitLab's /-/merge_requests/, Gitea's /pulls/, GitHub's /pull/) or by
 * PLUMB_FORGE (github, gitlab, gitea) for hosts that look alike.
 */
export function parsePullRequest(text: string, environment: NodeJS.ProcessEnv = process.env): PullRequest {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw usage(text, "not a URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw usage(text, "only http and https addresses");
  if (url.username !== "" || url.password !== "") throw usage(text, "the address must not carry credentials (the token comes from the environment)");
  const segments = url.pathname.split("/").filter((segment) => segment !== "");
  const number = segments[segments.length - 1] ?? "";
  if (!/^[0-9]{1,10}$/.test(number)) throw usage(text, "it does not end with the pull request's number");
  const kindSegment = segments[segments.length - 2];
  const hinted = environment.PLUMB_FORGE as Forge | undefined;
  const forge: Forge | undefined =
    hinted !== undefined && ["github", "gitlab", "gitea"].includes(hinted)
      ? hinted
      : kindSegment === "merge_requests"
        ? "gitlab"
        : kindSegment === "pulls"
          ? "gitea"
          : kindSegment === "pull"
            ? "github"
            : undefined;
  if (forge === undefined) throw usage(text, "not a pull or merge request address");
  const origin = url.origin;
  const override = environment.PLUMB_FORGE_API?.replace(/\/+$/, "");
  const encode = (parts: string[]) => parts.map((part) => encodeURIComponent(part)).join("/");
  if (forge === "gitlab") {
    const dash = segments.indexOf("-");
    if (dash < 2) throw usage(text, "a GitLab merge request address has /-/merge_requests/<n> after the project");
    const project = encodeURIComponent(segments.slice(0, dash).join("/"));
    const api = override ?? `${origin}/api/v4`;
    return { forge, api, comments: `${api}/projects/${project}/merge_requests/${number}/notes`, url: text };
  }
  if (segments.length !== 4) throw usage(text, `a ${forge === "github" ? "GitHub" : "Gitea"} pull request address is /<owner>/<repo>/${kindSegment}/<n>`);
  const [owner = "", repository = ""] = segments;
  const api = override ?? (forge === "github" ? (url.hostname === "github.com" ? "https://api.github.com" : `${origin}/api/v3`) : `${origin}/api/v1`);
  return { forge, api, comments: `${api}/repos/${encode([owner, repository])}/issues/${number}/comments`, url: text };
}

interface ForgeComment {
  id: number | string;
  body: string;
}

function headers(forge: Forge, token: string): Record<string, string> {
  const common = { "content-type": "application/json", accept: "application/json", "user-agent": "plumb" };
  if (forge === "gitlab") return { ...common, "private-token": token };
  if (forge === "github") return { ...common, authorization: `Bearer ${token}`, accept: "application/vnd.github+json", "x-github-api-version": "2022-11-28" };
  return { ...common, authorization: `token ${token}` };
}

async function call(pull: PullRequest, token: string, method: string, url: string, body?: unknown): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: headers(pull.forge, token),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
      redirect: "error",
    });
  } catch (error) {
    throw new PlumbError(
      "PLUMB_FORGE",
      `cannot reach ${new URL(url).origin} to comment on ${pull.url}: ${error instanceof Error ? error.message : String(error)}`,
      {
        hint: "check the address and the network; set PLUMB_FORGE_API if the API is elsewhere",
      },
    );
  }
  const text = await response.text();
  if (!response.ok) {
    const reason =
      response.status === 401 || response.status === 403
        ? "the token was refused"
        : response.status === 404
          ? "no such pull request (or the token cannot see it)"
          : `HTTP ${response.status}`;
    throw new PlumbError("PLUMB_FORGE", `${pull.forge} answered ${method} ${new URL(url).pathname} with ${reason}`, {
      hint: `give a token with the right to comment in ${tokenVariables[pull.forge].join(" or ")}`,
    });
  }
  try {
    return text === "" ? {} : (JSON.parse(text) as unknown);
  } catch {
    throw new PlumbError("PLUMB_FORGE", `${pull.forge} answered ${method} ${new URL(url).pathname} with something that is not JSON`);
  }
}

/** Every comment of the pull request, following pages (100 a page, at most 50 pages). */
async function listComments(pull: PullRequest, token: string): Promise<ForgeComment[]> {
  const all: ForgeComment[] = [];
  for (let page = 1; page <= 50; page++) {
    const separator = pull.comments.includes("?") ? "&" : "?";
    const batch = await call(pull, token, "GET", `${pull.comments}${separator}per_page=100&page=${page}${pull.forge === "gitea" ? "&limit=100" : ""}`);
    if (!Array.isArray(batch)) throw new PlumbError("PLUMB_FORGE", `${pull.forge} listed the comments of ${pull.url} as something other than a list`);
    for (const item of batch)
      if (typeof item === "object" && item !== null && "id" in item && "body" in item && typeof item.body === "string")
        all.push({ id: item.id as number | string, body: item.body });
    if (batch.length < 100) break;
  }
  return all;
}

/** The hidden line that finds a stack's comment again on the next plan, by its directory. */
export function commentMarker(key: string): string {
  return `<!-- plumb-plan stack=${key.replace(/[^A-Za-z0-9._/-]/g, "_").replace(/--/g, "__")} -->`;
}

/** Creates or updates the one comment for the stack at `key` (its directory) on the pull request; returns which. */
export async function upsertPlanComment(pull: PullRequest, token: string, key: string, markdown: string): Promise<"created" | "updated"> {
  const marker = commentMarker(key);
  const body = `${marker}\n${markdown}`;
  const existing = (await listComments(pull, token)).find((comment) => comment.body.startsWith(marker));
  if (existing === undefined) {
    await call(pull, token, "POST", pull.comments, { body });
    return "created";
  }
  const id = encodeURIComponent(String(existing.id));
  const one = pull.forge === "gitlab" ? `${pull.comments}/${id}` : `${pull.comments.replace(/\/issues\/[0-9]+\/comments$/, "")}/issues/comments/${id}`;
  await call(pull, token, pull.forge === "gitlab" ? "PUT" : "PATCH", one, { body });
  return "updated";
}

export function forgeToken(forge: Forge, environment: NodeJS.ProcessEnv = process.env): string {
  for (const name of tokenVariables[forge]) {
    const value = environment[name];
    if (value !== undefined && value !== "") return value;
  }
  throw new PlumbError("PLUMB_USAGE", `--comment needs a token to post on ${forge}`, { hint: `set ${tokenVariables[forge].join(" or ")}` });
}
