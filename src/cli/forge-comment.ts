// Posts a plan on a pull request as one comment and keeps it current: the
// comment carries a hidden marker per stack, and the next plan edits that
// comment instead of adding another. GitHub (and GitHub Enterprise), GitLab
// and Gitea/Forgejo, through their documented REST APIs; the token comes from
// the environment and never appears in a message.

import { PlumbError } from "../errors.js";
import { redactUrl } from "../source/git.js";
import { forgeApi, forgeCall, isForge, type Forge, type ForgeTarget } from "./forge.js";

export interface PullRequest extends ForgeTarget {
  /** The API's base URL: https://api.github.com, https://host/api/v3, https://host/api/v4, https://host/api/v1. */
  api: string;
  /** The comments collection of the pull request. */
  comments: string;
}

function usage(url: string, why: string): PlumbError {
  return new PlumbError("PLUMB_USAGE", `--comment ${redactUrl(url)}: ${why}`, {
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
  const hinted = environment.PLUMB_FORGE;
  const forge: Forge | undefined = isForge(hinted)
    ? hinted
    : kindSegment === "merge_requests"
      ? "gitlab"
      : kindSegment === "pulls"
        ? "gitea"
        : kindSegment === "pull"
          ? "github"
          : undefined;
  if (forge === undefined) throw usage(text, "not a pull or merge request address");
  const api = forgeApi(forge, url, environment);
  const target = { forge, url: text, purpose: "comment" };
  const encode = (parts: string[]) => parts.map((part) => encodeURIComponent(part)).join("/");
  if (forge === "gitlab") {
    const dash = segments.indexOf("-");
    if (dash < 2) throw usage(text, "a GitLab merge request address has /-/merge_requests/<n> after the project");
    const project = encodeURIComponent(segments.slice(0, dash).join("/"));
    return { ...target, api, comments: `${api}/projects/${project}/merge_requests/${number}/notes` };
  }
  if (segments.length !== 4) throw usage(text, `a ${forge === "github" ? "GitHub" : "Gitea"} pull request address is /<owner>/<repo>/${kindSegment}/<n>`);
  const [owner = "", repository = ""] = segments;
  return { ...target, api, comments: `${api}/repos/${encode([owner, repository])}/issues/${number}/comments` };
}

interface ForgeComment {
  id: number | string;
  body: string;
}

/** Every comment of the pull request, following pages (100 a page, at most 50 pages). */
async function listComments(pull: PullRequest, token: string): Promise<ForgeComment[]> {
  const all: ForgeComment[] = [];
  for (let page = 1; page <= 50; page++) {
    const separator = pull.comments.includes("?") ? "&" : "?";
    const batch = await forgeCall(pull, token, "GET", `${pull.comments}${separator}per_page=100&page=${page}${pull.forge === "gitea" ? "&limit=100" : ""}`);
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
    await forgeCall(pull, token, "POST", pull.comments, { body });
    return "created";
  }
  const id = encodeURIComponent(String(existing.id));
  const one = pull.forge === "gitlab" ? `${pull.comments}/${id}` : `${pull.comments.replace(/\/issues\/[0-9]+\/comments$/, "")}/issues/comments/${id}`;
  await forgeCall(pull, token, pull.forge === "gitlab" ? "PUT" : "PATCH", one, { body });
  return "updated";
}
