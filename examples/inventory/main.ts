// The inventory team's database as a program: a loop where YAML would repeat
// itself, and references (owner.name) where YAML would repeat a name. It runs
// in Plumb's sandbox: no environment, no network, no credentials.

import { postgres, type StackContext } from "plumb/sdk";

export default function inventory(context: StackContext): void {
  const warehouses = context.values.warehouses as string[];
  const owner = new postgres.Role("inventory_owner", { login: false });
  const app = new postgres.Role("inventory_app", { login: true, connectionLimit: 10, memberOf: ["inventory_owner"] }, { dependsOn: [owner] });
  const database = new postgres.Database("inventory", { owner: owner.name });
  new postgres.Grant("inventory-connect", { role: app.name, database: database.name, objectType: "database", privileges: ["CONNECT"] });
  for (const warehouse of warehouses) {
    const schema = new postgres.Schema(`inventory-${warehouse}`, { name: warehouse, database: database.name, owner: owner.name });
    new postgres.Grant(`inventory-${warehouse}-usage`, { role: app.name, database: database.name, objectType: "schema", schema: schema.name, privileges: ["USAGE"] });
  }
}
