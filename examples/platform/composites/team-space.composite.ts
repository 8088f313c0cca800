// TeamSpace: what a science team asks for when it starts: a place for its data
// (a versioned, encrypted, private bucket that expires scratch files), a
// MariaDB database with an application login, and a RabbitMQ vhost with its
// own user. The platform decides how each is locked down.

import { Type, defineComposite, mysql, rabbitmq, s3 } from "plumb/sdk";

const team = Type.String({ pattern: "^[a-z][a-z0-9]{2,30}$", description: "The team's short name: lower-case letters and digits." });
const secret = Type.Object({ secretRef: Type.Object({ name: Type.String(), key: Type.String(), store: Type.Optional(Type.String()) }) });

export default defineComposite({
  apiVersion: "platform.example.org/v1",
  kind: "TeamSpace",
  description: "A team's starting set: a private, versioned, encrypted bucket; a MariaDB database with an application login; a RabbitMQ vhost with an application user.",
  schema: Type.Object(
    {
      team,
      scratchDays: Type.Integer({ default: 14, minimum: 1, maximum: 365, description: "Objects under scratch/ in the bucket expire after this many days." }),
      databasePassword: { ...secret, description: "The database login's password, from a secret store." },
      brokerPassword: { ...secret, description: "The broker user's password, from a secret store." },
      providers: Type.Object(
        {
          s3: Type.String({ default: "objects" }),
          mysql: Type.String({ default: "sql" }),
          rabbitmq: Type.String({ default: "broker" }),
        },
        { default: {}, description: "The Stack's provider instances to use." },
      ),
    },
    { additionalProperties: false },
  ),
  examples: [
    {
      title: "A team space with the defaults",
      name: "genomics",
      spec: {
        team: "genomics",
        scratchDays: 14,
        databasePassword: { secretRef: { name: "genomics-db", key: "password" } },
        brokerPassword: { secretRef: { name: "genomics-mq", key: "password" } },
        providers: { s3: "objects", mysql: "sql", rabbitmq: "broker" },
      },
    },
  ],
  compose(claim) {
    const { team: name, scratchDays, databasePassword, brokerPassword, providers } = claim.spec;
    const labels = { ...claim.labels, "platform.example.org/composite": "TeamSpace" };
    new s3.Bucket(
      `${name}-data`,
      {
        versioning: "Enabled",
        encryption: { algorithm: "AES256" },
        publicAccessBlock: { blockPublicAcls: true, ignorePublicAcls: true, blockPublicPolicy: true, restrictPublicBuckets: true },
        lifecycle: [{ id: "expire-scratch", prefix: "scratch/", expirationDays: scratchDays }],
      },
      { provider: providers.s3, labels },
    );
    const database = new mysql.Database(name, { characterSet: "utf8mb4" }, { provider: providers.mysql, labels });
    const login = new mysql.User(`${name}_app`, { password: databasePassword, maxUserConnections: 20 }, { provider: providers.mysql, labels });
    new mysql.Grant(`${name}-app`, { grantee: login.name, host: "%", database: database.name, privileges: ["SELECT", "INSERT", "UPDATE", "DELETE"] }, { provider: providers.mysql, labels });
    const vhost = new rabbitmq.VHost(name, { description: `${name} team` }, { provider: providers.rabbitmq, labels });
    const user = new rabbitmq.User(`${name}-app`, { password: brokerPassword }, { provider: providers.rabbitmq, labels });
    new rabbitmq.Permission(`${name}-app`, { user: user.name, vhost: vhost.name, configure: ".*", write: ".*", read: ".*" }, { provider: providers.rabbitmq, labels });
  },
});
