// The fleet of the PostgreSQL benchmark as an Ansible playbook using the
// community.postgresql modules, one looped task per kind of object.

/**
 * @param {{ teams: number, port: number, password: string, python: string }} options
 * @returns {string} the playbook as YAML
 */
export function fleetPlaybook({ teams, port, password, python }) {
  const loop = `"{{ range(0, ${teams}) | list }}"`;
  // community.postgresql 2.4 (Debian 12) has no module_defaults group, so every task carries the login.
  const login = { login_host: "127.0.0.1", login_port: port, login_user: "postgres", login_password: JSON.stringify(password) };
  const task = (name, module, parameters) =>
    `    - name: ${name}\n      ${module}:\n${Object.entries({ ...login, ...parameters })
      .map(([key, value]) => `        ${key}: ${value}`)
      .join("\n")}\n      loop: ${loop}\n`;
  return `- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: ${python}
  tasks:
${[
  task("owner roles", "community.postgresql.postgresql_user", { name: '"team{{ item }}_owner"', role_attr_flags: "NOLOGIN" }),
  task("login roles", "community.postgresql.postgresql_user", {
    name: '"team{{ item }}_app"',
    role_attr_flags: "LOGIN",
    conn_limit: 10,
    groups: '["team{{ item }}_owner"]',
  }),
  task("databases", "community.postgresql.postgresql_db", { name: '"team{{ item }}"', owner: '"team{{ item }}_owner"' }),
  task("connect grants", "community.postgresql.postgresql_privs", {
    login_db: '"team{{ item }}"',
    type: "database",
    privs: "CONNECT",
    roles: '"team{{ item }}_app"',
  }),
  task("api schemas", "community.postgresql.postgresql_schema", { login_db: '"team{{ item }}"', name: "api", owner: '"team{{ item }}_owner"' }),
  task("reports schemas", "community.postgresql.postgresql_schema", { login_db: '"team{{ item }}"', name: "reports", owner: '"team{{ item }}_owner"' }),
  task("schema usage grants", "community.postgresql.postgresql_privs", {
    login_db: '"team{{ item }}"',
    type: "schema",
    objs: "api,reports",
    privs: "USAGE",
    roles: '"team{{ item }}_app"',
  }),
  task("table grants", "community.postgresql.postgresql_privs", {
    login_db: '"team{{ item }}"',
    type: "table",
    schema: "api",
    objs: "ALL_IN_SCHEMA",
    privs: "SELECT",
    roles: '"team{{ item }}_app"',
  }),
].join("")}`;
}
