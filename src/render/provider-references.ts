// A stack's provider instances with references to the platform's resolved:
// `providers: { db: { instance: shared-postgres } }` becomes that
// ProviderInstance's type and config, so the stack never holds the
// connection settings and every later stage sees one shape.

import type { ProviderCatalog } from "../project-definition.js";
import type { ProviderInstance, StackDocument } from "../stack-definition.js";
import type { Problems } from "./problems.js";
import type { SourcePosition } from "../sdk/resource.js";

export function resolveProviderReferences(
  declared: NonNullable<NonNullable<StackDocument["spec"]>["providers"]>,
  catalog: ProviderCatalog | undefined,
  problems: Problems,
  where: (instance: string) => SourcePosition,
): Record<string, ProviderInstance> {
  const resolved: Record<string, ProviderInstance> = {};
  for (const [instance, entry] of Object.entries(declared)) {
    if (!("instance" in entry)) {
      resolved[instance] = entry;
      continue;
    }
    const found = catalog?.get(entry.instance);
    if (found === undefined) {
      problems.add(
        "PLUMB_PROVIDER_INSTANCE",
        catalog === undefined
          ? `provider instance ${instance} uses the platform's instance ${entry.instance}, and no platform repository is loaded here`
          : `provider instance ${instance} uses ${entry.instance}, which is not a ProviderInstance in the platform repository`,
        where(instance),
        catalog === undefined
          ? "plan it through the agent, which reads the platform's ProviderInstance documents"
          : "check the name against the platform's ProviderInstance documents",
      );
      continue;
    }
    resolved[instance] = { type: found.type, config: found.config };
  }
  return resolved;
}
