// Which repository and ref a webhook's push names, compared the way hosting
// services spell them (https, ssh and scp-like URLs, `.git` or not, any case).

/** Compares repository URLs the way hosting services spell them in webhooks. */
export function normalizeRepositoryUrl(url: string): string {
  return url
    .trim()
    .replace(/^[a-z+]+:\/\/(?:[^@/]+@)?/i, "")
    .replace(/^[^@/]+@([^:/]+):/, "$1/")
    .replace(/\.git$/, "")
    .replace(/\/+$/, "")
    .toLowerCase();
}

export function refMatches(ref: unknown, pushed: string): boolean {
  if (ref === undefined) return pushed === "refs/heads/main";
  if (typeof ref === "string") return pushed === `refs/heads/${ref}` || pushed === `refs/tags/${ref}`;
  if (typeof ref === "object" && ref !== null) {
    if ("branch" in ref) return pushed === `refs/heads/${String(ref.branch)}`;
    if ("tag" in ref || "semver" in ref) return pushed.startsWith("refs/tags/");
  }
  return false;
}
