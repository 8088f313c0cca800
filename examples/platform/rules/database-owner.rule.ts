// Who owns a database must be managed next to it: every Database's owner is a
// Role of the same stack (a stack-wide rule; a deny stops the sync).

import { defineRule, type ResourceView } from "plumb/sdk";

/** The address of the Role an owner field names: a plain name, or a reference to another resource's output. */
function ownerAddress(owner: unknown, roles: ResourceView[]): string | undefined {
  if (typeof owner === "object" && owner !== null && "outputRef" in owner) return (owner as { outputRef: { resource: string } }).outputRef.resource;
  return roles.find((role) => (role.spec.name ?? role.name) === owner)?.address;
}

export default defineRule({
  name: "database-owner-role",
  description: "every Database is owned by a Role declared in the same stack",
  level: "deny",
  scope: "stack",
  kinds: ["postgres.plumb.dev/v1/Database", "postgres.plumb.dev/v1/Role"],
  check(resources) {
    const roles = resources.filter((resource) => resource.kind === "Role");
    const roleAddresses = new Set(roles.map((role) => role.address));
    return resources
      .filter((resource) => resource.kind === "Database")
      .filter((database) => {
        const owner = ownerAddress(database.spec.owner, roles);
        return owner === undefined || !roleAddresses.has(owner);
      })
      .map((database) => `${database.address} is owned by ${JSON.stringify(database.spec.owner ?? "(nobody)")}, which is not a Role of this stack`);
  },
});
