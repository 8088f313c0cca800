// A login role without a connection limit can starve a shared server: the
// platform gives it 20 and says so in the plan (a remediate rule).

import { defineRule } from "plumb/sdk";

export default defineRule({
  name: "login-connection-limit",
  description: "every login role has a connection limit between 1 and 100",
  level: "remediate",
  kinds: ["postgres.plumb.dev/v1/Role"],
  check(role) {
    if (role.spec.login !== true) return undefined;
    const limit = role.spec.connectionLimit;
    if (typeof limit === "number" && limit >= 1 && limit <= 100) return undefined;
    return { message: `connectionLimit is ${limit === undefined ? "not set" : String(limit)}`, fix: { "/connectionLimit": 20 } };
  },
});
