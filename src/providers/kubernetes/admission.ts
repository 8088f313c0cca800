// Drift prevention on a cluster, as a validating admission webhook: the
// ValidatingWebhookConfiguration that sends UPDATE and DELETE requests for a
// stack's objects to the agent, and the agent's answer to one request.
// Plumb's own writes pass; anyone else's pass unless they change a field the
// stack's manifest sets or delete an object the stack still declares.

import { PlumbError } from "../../errors.js";
import type { AdmissionContext, AdmissionGuard } from "../../sdk/provider.js";
import { pointerSegment, type JsonObject, type JsonValue } from "../../sdk/resource.js";
import { projectLive, secretLiveView } from "./compare.js";
import type { KubeConnection } from "./connection.js";
import { clusterIdentity } from "./identity.js";
import { applyBody, stackLabel, type Manifest } from "./objects.js";

interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  name?: string;
  namespace?: string;
  operation: string;
  subResource?: string;
  userInfo: { username?: string };
  object?: JsonObject | null;
  oldObject?: JsonObject | null;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function malformed(what: string): PlumbError {
  return new PlumbError("PLUMB_INVALID", `not an admission.k8s.io/v1 AdmissionReview: ${what}`, {
    hint: "the webhook answers the API server's AdmissionReview requests only",
  });
}

function requestOf(body: unknown): AdmissionRequest {
  if (!isObject(body) || body.apiVersion !== "admission.k8s.io/v1" || body.kind !== "AdmissionReview") throw malformed("apiVersion or kind");
  const request = body.request;
  if (!isObject(request) || typeof request.uid !== "string" || request.uid === "") throw malformed("request.uid");
  const kind = request.kind;
  if (!isObject(kind) || typeof kind.group !== "string" || typeof kind.version !== "string" || typeof kind.kind !== "string") throw malformed("request.kind");
  if (typeof request.operation !== "string" || !isObject(request.userInfo)) throw malformed("request.operation or request.userInfo");
  return request as unknown as AdmissionRequest;
}

function answer(uid: string, refusal?: string, warning?: string): JsonObject {
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    response: {
      uid,
      allowed: refusal === undefined,
      ...(refusal === undefined ? {} : { status: { code: 403, reason: "Forbidden", message: refusal } }),
      ...(warning === undefined ? {} : { warnings: [warning] }),
    },
  };
}

/** JSON pointers where two projections differ, the first few. */
function changedFields(before: JsonValue | undefined, after: JsonValue | undefined, at = "", found: string[] = []): string[] {
  if (found.length >= 5) return found;
  // A map taken away is each of its managed keys taken away.
  if ((isObject(before) || before === undefined) && (isObject(after) || after === undefined) && before !== after) {
    const [from, to] = [before ?? {}, after ?? {}];
    for (const key of new Set([...Object.keys(from), ...Object.keys(to)])) changedFields(from[key], to[key], `${at}/${pointerSegment(key)}`, found);
    return found;
  }
  if (Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
    before.forEach((item, index) => changedFields(item, after[index], `${at}/${index}`, found));
    return found;
  }
  if (JSON.stringify(before) !== JSON.stringify(after)) found.push(at === "" ? "/" : at);
  return found;
}

/** The live object cut to the fields Plumb applies, the way the plan compares them. */
function managedView(applied: JsonObject, desired: Manifest, live: JsonObject): JsonValue | undefined {
  const view = desired.apiVersion === "v1" && desired.kind === "Secret" ? secretLiveView(desired, live) : live;
  return projectLive(applied, view);
}

async function review(body: unknown, context: AdmissionContext): Promise<JsonObject> {
  const request = requestOf(body);
  // Status and other subresources are the controllers' to write; CREATE and CONNECT are not drift.
  if ((request.operation !== "UPDATE" && request.operation !== "DELETE") || (request.subResource ?? "") !== "") return answer(request.uid);
  const apiVersion = request.kind.group === "" ? request.kind.version : `${request.kind.group}/${request.kind.version}`;
  const name = request.namespace === undefined || request.namespace === "" ? String(request.name ?? "") : `${request.namespace}/${String(request.name ?? "")}`;
  const desired = context.desired(apiVersion, request.kind.kind, name) as Manifest | undefined;
  if (desired === undefined) return answer(request.uid);
  let identity: string;
  try {
    identity = await context.identity();
  } catch (error) {
    // Not knowing who Plumb is must not lock Plumb out; the drift loop still finds the change.
    return answer(request.uid, undefined, `Plumb cannot check this change: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (request.userInfo.username === identity) return answer(request.uid);

  const where = `stack ${context.stack} (${context.source}${context.revision === null ? "" : ` at ${context.revision.slice(0, 12)}`})`;
  const object = `${request.kind.kind} ${name}`;
  if (request.operation === "DELETE") {
    return answer(request.uid, `${object} is managed by Plumb ${where}: remove it from the stack in Git to delete it, or set sync.preventDrift: false`);
  }
  if (!isObject(request.object) || !isObject(request.oldObject)) throw malformed("an UPDATE without object and oldObject");
  const applied = applyBody(desired, context.stack);
  const before = managedView(applied, desired, request.oldObject);
  const after = managedView(applied, desired, request.object);
  const changed = changedFields(before, after);
  // A change back to what Git says mends drift; it is not drift itself.
  if (changed.length === 0 || changedFields(after, managedView(applied, desired, applied)).length === 0) return answer(request.uid);
  return answer(
    request.uid,
    `${object}: ${changed.join(", ")} ${changed.length === 1 ? "is" : "are"} managed by Plumb ${where}: change ${changed.length === 1 ? "it" : "them"} in Git instead, or set sync.preventDrift: false`,
  );
}

/** The webhook for one stack on one cluster: UPDATE and DELETE of objects carrying its label, never subresources. */
function manifest(options: { stack: string; instance: string; url: string; caBundle: string }): JsonObject {
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingWebhookConfiguration",
    metadata: { name: `plumb-prevent-drift.${options.stack}.${options.instance}` },
    webhooks: [
      {
        name: "prevent-drift.plumb.dev",
        admissionReviewVersions: ["v1"],
        sideEffects: "None",
        // The drift loop stays the guarantee: an agent that is down must not stop the cluster.
        failurePolicy: "Ignore",
        timeoutSeconds: 5,
        clientConfig: { url: options.url, caBundle: Buffer.from(options.caBundle, "utf8").toString("base64") },
        objectSelector: { matchLabels: { [stackLabel]: options.stack } },
        rules: [{ apiGroups: ["*"], apiVersions: ["*"], resources: ["*"], operations: ["UPDATE", "DELETE"], scope: "*" }],
      },
    ],
  };
}

export const kubernetesAdmission: AdmissionGuard<KubeConnection> = {
  manifest,
  identity: (connection) => clusterIdentity(connection.access, connection.client),
  review,
};
