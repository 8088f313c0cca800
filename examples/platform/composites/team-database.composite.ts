// TeamDatabase: what a team asks for when it needs "a database for my team".
// The platform decides the rest: an owner group role that owns everything, an
// application login, one schema per name with the app's privileges on it, and
// read-only logins for the teams that may read (a nested composite).

import { Claim, Type, defineComposite, postgres } from "plumb/sdk";

const identifier = Type.String({ pattern: "^[a-z][a-z0-9_]{0,40}$", description: "A lower-case PostgreSQL identifier." });

export default defineComposite({
  apiVersion: "platform.example.org/v1",
  kind: "TeamDatabase",
  description: "A PostgreSQL database owned by a team: an owner role, an application login, schemas the application can read and write, and optional read-only logins for other teams.",
  schema: Type.Object(
    {
      database: { ...identifier, description: "The database's name; also the prefix of its roles (<database>_owner, <database>_app)." },
      schemas: Type.Array(identifier, { default: ["app"], minItems: 1, uniqueItems: true, description: "Schemas to create; the application gets read and write on each." }),
      connectionLimit: Type.Integer({ default: 20, minimum: 1, maximum: 500, description: "Connections the application login may hold." }),
      appPassword: Type.Optional(
        Type.Object({ secretRef: Type.Object({ name: Type.String(), key: Type.String(), store: Type.Optional(Type.String()) }) }, { description: "The application login's password, from a secret store." }),
      ),
      readers: Type.Array(identifier, { default: [], description: "Read-only logins to create for other teams (each a ReadOnlyAccess claim)." }),
      provider: Type.String({ default: "default", description: "The Stack's PostgreSQL provider instance." }),
    },
    { additionalProperties: false },
  ),
  examples: [
    { title: "A database with the defaults", name: "orders", spec: { database: "orders", schemas: ["app"], connectionLimit: 20, readers: [], provider: "default" } },
    { title: "Two schemas and a reporting reader", name: "ledger", spec: { database: "ledger", schemas: ["api", "audit"], connectionLimit: 50, readers: ["reporting"], provider: "default" } },
  ],
  compose(claim) {
    const { database: name, schemas, connectionLimit, appPassword, readers, provider } = claim.spec;
    const labels = { ...claim.labels, "platform.example.org/composite": "TeamDatabase" };
    const options = { provider, labels };
    const owner = new postgres.Role(`${name}_owner`, { login: false }, options);
    const app = new postgres.Role(`${name}_app`, { login: true, connectionLimit, memberOf: [`${name}_owner`], ...(appPassword === undefined ? {} : { password: appPassword }) }, { ...options, dependsOn: [owner] });
    const database = new postgres.Database(name, { owner: owner.name }, options);
    new postgres.Grant(`${name}-app-connect`, { role: app.name, database: database.name, objectType: "database", privileges: ["CONNECT"] }, options);
    for (const schemaName of schemas) {
      const schema = new postgres.Schema(`${name}-${schemaName}`, { name: schemaName, database: database.name, owner: owner.name }, options);
      new postgres.Grant(`${name}-${schemaName}-app-usage`, { role: app.name, database: database.name, objectType: "schema", schema: schema.name, privileges: ["USAGE"] }, options);
      new postgres.Grant(`${name}-${schemaName}-app-tables`, { role: app.name, database: database.name, objectType: "table", schema: schema.name, privileges: ["SELECT", "INSERT", "UPDATE", "DELETE"] }, options);
    }
    for (const reader of readers) {
      new Claim("platform.example.org/v1", "ReadOnlyAccess", `${name}-${reader}`, { login: `${name}_${reader}`, database: name, schemas, provider }, { labels });
    }
  },
});
