// ReadOnlyAccess: a login that can connect to a database and read every table
// in the given schemas. TeamDatabase composes one per reader; teams may also
// claim it directly.

import { Type, defineComposite, postgres } from "plumb/sdk";

export default defineComposite({
  apiVersion: "platform.example.org/v1",
  kind: "ReadOnlyAccess",
  description: "A read-only login: CONNECT on the database, USAGE and SELECT on the tables of each schema.",
  schema: Type.Object(
    {
      login: Type.String({ pattern: "^[a-z][a-z0-9_]{0,62}$", description: "The login role's name." }),
      database: Type.String({ minLength: 1, description: "The database to read." }),
      schemas: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: "The schemas whose tables it may read." }),
      provider: Type.String({ default: "default", description: "The Stack's PostgreSQL provider instance." }),
    },
    { additionalProperties: false },
  ),
  examples: [{ title: "Reporting reads the orders database", name: "orders-reporting", spec: { login: "orders_reporting", database: "orders", schemas: ["app"], provider: "default" } }],
  compose(claim) {
    const { login, database, schemas, provider } = claim.spec;
    const options = { provider, labels: claim.labels };
    const role = new postgres.Role(login, { login: true, connectionLimit: 5 }, options);
    new postgres.Grant(`${login}-connect`, { role: role.name, database, objectType: "database", privileges: ["CONNECT"] }, options);
    for (const schema of schemas) {
      new postgres.Grant(`${login}-${schema}-usage`, { role: role.name, database, objectType: "schema", schema, privileges: ["USAGE"] }, options);
      new postgres.Grant(`${login}-${schema}-select`, { role: role.name, database, objectType: "table", schema, privileges: ["SELECT"] }, options);
    }
  },
});
