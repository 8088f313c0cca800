// Who Plumb acts as on a cluster, so the drift-prevention webhook can let
// Plumb's own writes through and refuse everyone else's. Asked of the server
// where it can answer: a client certificate's common name is the user; a
// token is reviewed by the server (TokenReview); a service account token
// names its account. The provider's `username` setting overrides all three.

import { X509Certificate } from "node:crypto";
import { PlumbError } from "../../errors.js";
import { KubeApiError, type KubeClient } from "./client.js";
import type { ClusterAccess } from "./kubeconfig.js";

interface TokenReview {
  status?: { authenticated?: boolean; user?: { username?: string }; error?: string };
}

function unknownIdentity(reason: string): PlumbError {
  return new PlumbError("PLUMB_PROVIDER_CONFIG", `cannot tell which user Plumb acts as on this cluster: ${reason}`, {
    hint: "set username in the kubernetes provider's config to the user its credentials authenticate as (kubectl auth whoami shows it on 1.27 and later)",
  });
}

/** The `sub` of a service account token (a JWT), without trusting it for anything but naming ourselves. */
function serviceAccountOf(token: string): string | undefined {
  const payload = token.split(".")[1];
  if (payload === undefined) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { sub?: unknown };
    return typeof claims.sub === "string" && claims.sub.startsWith("system:serviceaccount:") ? claims.sub : undefined;
  } catch {
    return undefined;
  }
}

export async function clusterIdentity(access: ClusterAccess, client: KubeClient): Promise<string> {
  if (access.username !== undefined) return access.username;
  if (access.cert !== undefined) {
    const subject = new X509Certificate(access.cert).subject;
    const commonName = /^CN=(.+)$/m.exec(subject)?.[1];
    if (commonName === undefined) throw unknownIdentity("the client certificate has no common name");
    return commonName;
  }
  if (access.token === undefined) throw unknownIdentity("no token and no client certificate");
  try {
    const review = await client.request<TokenReview>("POST", "/apis/authentication.k8s.io/v1/tokenreviews", {
      body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token: access.token } },
      what: "review Plumb's own token",
    });
    const username = review.status?.authenticated === true ? review.status.user?.username : undefined;
    if (username !== undefined && username !== "") return username;
  } catch (error) {
    // Without the right to review tokens, a service account token still names its account.
    if (!(error instanceof KubeApiError && error.httpStatus === 403)) throw error;
  }
  const account = serviceAccountOf(access.token);
  if (account !== undefined) return account;
  throw unknownIdentity("the server did not review the token (creating tokenreviews is not allowed to it)");
}
