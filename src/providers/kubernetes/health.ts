// Whether a Kubernetes object has become what it was asked to be, judged the
// way kstatus does: the controller has seen the newest generation, workloads
// have rolled out, Jobs completed, claims bound, CRDs established, load
// balancers assigned, and any object with a Ready condition is ready.

import type { Health } from "../../sdk/provider.js";
import type { JsonObject } from "../../sdk/resource.js";

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

function conditions(status: JsonObject): Condition[] {
  return Array.isArray(status.conditions) ? (status.conditions as Condition[]) : [];
}

function condition(status: JsonObject, type: string): Condition | undefined {
  return conditions(status).find((item) => item.type === type);
}

const number = (value: unknown, fallback = 0): number => (typeof value === "number" ? value : fallback);

function progressing(message: string): Health {
  return { status: "Progressing", message };
}

function workload(kind: string, spec: JsonObject, status: JsonObject): Health {
  if (kind === "DaemonSet") {
    const desired = number(status.desiredNumberScheduled);
    const updated = number(status.updatedNumberScheduled);
    const available = number(status.numberAvailable);
    return updated >= desired && available >= desired ? { status: "Healthy" } : progressing(`${updated} of ${desired} updated, ${available} available`);
  }
  const replicas = number(spec.replicas, 1);
  const updated = number(status.updatedReplicas);
  const ready = number(kind === "StatefulSet" ? status.readyReplicas : status.availableReplicas);
  const total = number(status.replicas);
  if (kind === "Deployment" && condition(status, "Progressing")?.reason === "ProgressDeadlineExceeded")
    return { status: "Degraded", message: condition(status, "Progressing")?.message ?? "the rollout exceeded its progress deadline" };
  if (updated < replicas || ready < replicas || total > updated)
    return progressing(`${updated} of ${replicas} updated, ${ready} ${kind === "StatefulSet" ? "ready" : "available"}, ${total} in all`);
  return { status: "Healthy" };
}

/** The health of a whole live object (with its status), by its kind. */
export function objectHealth(object: JsonObject): Health {
  const kind = String(object.kind ?? "");
  const metadata = (object.metadata ?? {}) as JsonObject;
  const spec = (object.spec ?? {}) as JsonObject;
  const status = (object.status ?? {}) as JsonObject;
  if (typeof metadata.deletionTimestamp === "string") return progressing("being deleted");
  const generation = number(metadata.generation);
  if (typeof status.observedGeneration === "number" && status.observedGeneration < generation)
    return progressing(`the controller has seen generation ${status.observedGeneration} of ${generation}`);
  switch (kind) {
    case "Deployment":
    case "StatefulSet":
    case "DaemonSet":
    case "ReplicaSet":
      if (status.observedGeneration === undefined) return progressing("no controller has reported on it yet");
      return workload(kind, spec, status);
    case "Job": {
      if (condition(status, "Complete")?.status === "True") return { status: "Healthy" };
      const failed = condition(status, "Failed");
      if (failed?.status === "True") return { status: "Degraded", message: failed.message ?? failed.reason ?? "the job failed" };
      return progressing(`${number(status.succeeded)} succeeded, ${number(status.active)} running`);
    }
    case "PersistentVolumeClaim":
      return status.phase === "Bound" ? { status: "Healthy" } : progressing(`phase ${String(status.phase ?? "Pending")}`);
    case "CustomResourceDefinition": {
      if (condition(status, "NamesAccepted")?.status === "False")
        return { status: "Degraded", message: condition(status, "NamesAccepted")?.message ?? "names not accepted" };
      return condition(status, "Established")?.status === "True" ? { status: "Healthy" } : progressing("not established yet");
    }
    case "Service": {
      if (spec.type !== "LoadBalancer") return { status: "Healthy" };
      const ingress = ((status.loadBalancer ?? {}) as JsonObject).ingress;
      return Array.isArray(ingress) && ingress.length > 0 ? { status: "Healthy" } : progressing("waiting for a load balancer address");
    }
    case "Namespace":
      return status.phase === "Terminating" ? progressing("terminating") : { status: "Healthy" };
  }
  const ready = condition(status, "Ready");
  if (ready?.status === "False") return progressing(ready.message ?? ready.reason ?? "not ready");
  if (ready?.status === "Unknown") return progressing("readiness unknown");
  return { status: "Healthy" };
}
