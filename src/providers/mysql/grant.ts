// Kind `Grant`: the privileges one user or role holds on one database, or on
// one table in it, read for a stack with one query per level (mysql.db,
// mysql.tables_priv) and changed by granting and revoking the difference.

import { Type, type Static } from "@sinclair/typebox";
import { defineKind, type LiveObject, type SpecProblem, type Target } from "../../sdk/provider.js";
import { inDesiredOrder, readBack, readOne } from "./common.js";
import { account, grantDatabase, quoteIdentifier, type MysqlConnection } from "./connection.js";

/** Database-level privileges and the mysql.db column that holds each. */
const databasePrivileges: Record<string, string> = {
  SELECT: "Select_priv",
  INSERT: "Insert_priv",
  UPDATE: "Update_priv",
  DELETE: "Delete_priv",
  CREATE: "Create_priv",
  DROP: "Drop_priv",
  REFERENCES: "References_priv",
  INDEX: "Index_priv",
  ALTER: "Alter_priv",
  "CREATE TEMPORARY TABLES": "Create_tmp_table_priv",
  "LOCK TABLES": "Lock_tables_priv",
  "CREATE VIEW": "Create_view_priv",
  "SHOW VIEW": "Show_view_priv",
  "CREATE ROUTINE": "Create_routine_priv",
  "ALTER ROUTINE": "Alter_routine_priv",
  EXECUTE: "Execute_priv",
  EVENT: "Event_priv",
  TRIGGER: "Trigger_priv",
  "DELETE HISTORY": "Delete_history_priv",
};

/** Table-level privileges and their spelling in mysql.tables_priv.Table_priv. */
const tablePrivileges: Record<string, string> = {
  SELECT: "Select",
  INSERT: "Insert",
  UPDATE: "Update",
  DELETE: "Delete",
  CREATE: "Create",
  DROP: "Drop",
  REFERENCES: "References",
  INDEX: "Index",
  ALTER: "Alter",
  "CREATE VIEW": "Create View",
  "SHOW VIEW": "Show view",
  TRIGGER: "Trigger",
  "DELETE HISTORY": "Delete versioning rows",
};

export const grantSpec = Type.Object(
  {
    grantee: Type.String({ minLength: 1, maxLength: 80, description: "The user or role that holds the privileges." }),
    host: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: "The user's host; leave out for a role." })),
    database: Type.String({ minLength: 1, maxLength: 64 }),
    table: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: "One table; leave out for the whole database." })),
    privileges: Type.Array(Type.String({ minLength: 1 }), { uniqueItems: true, description: "e.g. SELECT, INSERT, UPDATE, DELETE, EXECUTE." }),
    grantOption: Type.Optional(Type.Boolean({ description: "May pass these privileges on; default false." })),
  },
  { additionalProperties: false },
);

export type GrantSpec = Static<typeof grantSpec>;

interface DatabaseRow extends Record<string, unknown> {
  Host: string;
  Db: string;
  User: string;
  Grant_priv: string;
}

interface TableRow extends Record<string, unknown> {
  Host: string;
  Db: string;
  User: string;
  Table_name: string;
  Table_priv: string;
}

const grantKey = (user: string, host: string, database: string, table: string | undefined) => JSON.stringify([user, host, database, table ?? null]);
// In mysql.db a database name is a pattern (stored escaped); in mysql.tables_priv it is plain.
const targetKey = ({ spec }: Target<GrantSpec>) =>
  grantKey(spec.grantee, spec.host ?? "", spec.table === undefined ? grantDatabase(spec.database) : spec.database, spec.table);
const grantee = (spec: GrantSpec) => account(spec.grantee, spec.host);
const on = (spec: GrantSpec) =>
  `${quoteIdentifier(spec.table === undefined ? grantDatabase(spec.database) : spec.database)}.${spec.table === undefined ? "*" : quoteIdentifier(spec.table)}`;

async function readGrants(connection: MysqlConnection, targets: readonly Target<GrantSpec>[]): Promise<Map<string, LiveObject>> {
  const users = [...new Set(targets.map((target) => target.spec.grantee))];
  const wantsTables = targets.some((target) => target.spec.table !== undefined);
  const wantsDatabases = targets.some((target) => target.spec.table === undefined);
  const [databaseRows, tableRows] = await Promise.all([
    wantsDatabases ? connection.query<DatabaseRow>("SELECT * FROM mysql.db WHERE User IN (?)", [users]) : Promise.resolve([]),
    wantsTables
      ? connection.query<TableRow>("SELECT Host, Db, User, Table_name, Table_priv FROM mysql.tables_priv WHERE User IN (?)", [users])
      : Promise.resolve([]),
  ]);
  const found = new Map<string, { privileges: string[]; grantOption: boolean }>();
  for (const row of databaseRows) {
    const privileges = Object.entries(databasePrivileges)
      .filter(([, column]) => row[column] === "Y")
      .map(([privilege]) => privilege);
    found.set(grantKey(row.User, row.Host, row.Db, undefined), { privileges, grantOption: row.Grant_priv === "Y" });
  }
  for (const row of tableRows) {
    const held = row.Table_priv === "" ? [] : row.Table_priv.split(",");
    const privileges = Object.entries(tablePrivileges)
      .filter(([, spelling]) => held.includes(spelling))
      .map(([privilege]) => privilege);
    found.set(grantKey(row.User, row.Host, row.Db, row.Table_name), { privileges, grantOption: held.includes("Grant") });
  }
  const live = new Map<string, LiveObject>();
  for (const target of targets) {
    const held = found.get(targetKey(target));
    if (held === undefined || (held.privileges.length === 0 && !held.grantOption)) continue;
    const desired = target.desired ?? target.spec;
    live.set(target.address, {
      spec: {
        grantee: target.spec.grantee,
        ...(target.spec.host === undefined ? {} : { host: target.spec.host }),
        database: target.spec.database,
        ...(target.spec.table === undefined ? {} : { table: target.spec.table }),
        privileges: inDesiredOrder(
          desired.privileges.map((privilege) => privilege.toUpperCase()),
          held.privileges,
        ).map((privilege) => desired.privileges.find((written) => written.toUpperCase() === privilege) ?? privilege),
        grantOption: held.grantOption,
      },
    });
  }
  return live;
}

function privilegeStatements(spec: GrantSpec, live: { privileges: string[]; grantOption: boolean }): string[] {
  const wanted = spec.privileges.map((privilege) => privilege.toUpperCase());
  const held = live.privileges.map((privilege) => privilege.toUpperCase());
  const add = wanted.filter((privilege) => !held.includes(privilege));
  const remove = held.filter((privilege) => !wanted.includes(privilege));
  const statements: string[] = [];
  if (remove.length > 0) statements.push(`REVOKE ${remove.join(", ")} ON ${on(spec)} FROM ${grantee(spec)}`);
  if (live.grantOption && spec.grantOption !== true) statements.push(`REVOKE GRANT OPTION ON ${on(spec)} FROM ${grantee(spec)}`);
  if (add.length > 0 || (spec.grantOption === true && !live.grantOption))
    statements.push(
      `GRANT ${(add.length > 0 ? add : wanted).join(", ")} ON ${on(spec)} TO ${grantee(spec)}${spec.grantOption === true ? " WITH GRANT OPTION" : ""}`,
    );
  return statements;
}

function validateGrant(spec: GrantSpec): SpecProblem[] {
  const known = spec.table === undefined ? databasePrivileges : tablePrivileges;
  const problems: SpecProblem[] = [];
  spec.privileges.forEach((privilege, index) => {
    if (!Object.hasOwn(known, privilege.toUpperCase()))
      problems.push({
        path: `/privileges/${index}`,
        message: `${JSON.stringify(privilege)} is not a ${spec.table === undefined ? "database" : "table"} privilege`,
        hint: `${spec.table === undefined ? "on a database" : "on a table"}: ${Object.keys(known).join(", ")} (ALL is not taken: list what is meant)`,
      });
  });
  if (spec.privileges.length === 0 && spec.grantOption !== true)
    problems.push({ path: "/privileges", message: "a grant of nothing", hint: "list at least one privilege" });
  return problems;
}

export const grantKind = defineKind<GrantSpec, MysqlConnection>({
  kind: "Grant",
  schema: grantSpec,
  ownsObjects: false,
  replaceOn: ["grantee", "host", "database", "table"],
  defaults: () => ({ grantOption: false }),
  validate: validateGrant,
  places: (spec) => ({ database: [spec.database] }),
  requires: (spec) => [`database:${spec.database}`, spec.host === undefined ? `role:${spec.grantee}` : `account:${spec.grantee}@${spec.host}`],
  list: readGrants,
  read: readOne(readGrants),
  async create(connection, target) {
    await connection.statements(privilegeStatements(target.spec, { privileges: [], grantOption: false }));
    return readBack(readGrants, connection, target, `grant on ${on(target.spec)} to ${grantee(target.spec)}`);
  },
  async update(connection, target, live) {
    await connection.statements(
      privilegeStatements(target.spec, { privileges: (live.spec.privileges as string[] | undefined) ?? [], grantOption: live.spec.grantOption === true }),
    );
    return readBack(readGrants, connection, target, `grant on ${on(target.spec)} to ${grantee(target.spec)}`);
  },
  async delete(connection, target) {
    const live = (await readGrants(connection, [target])).get(target.address);
    if (live === undefined) return;
    await connection.statements(
      privilegeStatements(
        { ...target.spec, privileges: [], grantOption: false },
        {
          privileges: (live.spec.privileges as string[] | undefined) ?? [],
          grantOption: live.spec.grantOption === true,
        },
      ),
    );
  },
});
