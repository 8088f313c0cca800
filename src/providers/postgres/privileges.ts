// Privilege names per object type, shared by Grant and DefaultPrivileges.

import { Type } from "@sinclair/typebox";

export const allPrivileges = {
  database: ["CREATE", "CONNECT", "TEMPORARY"],
  schema: ["CREATE", "USAGE"],
  table: ["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"],
  sequence: ["USAGE", "SELECT", "UPDATE"],
  function: ["EXECUTE"],
} as const;

export type ObjectType = keyof typeof allPrivileges;

export const privilegeSchema = Type.Union(
  ["ALL", "CREATE", "CONNECT", "TEMPORARY", "USAGE", "SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "EXECUTE"].map((name) =>
    Type.Literal(name),
  ),
);

/** The privileges a list stands for, `ALL` expanded, in a fixed order. */
export function expandPrivileges(objectType: ObjectType, privileges: readonly string[]): string[] {
  const known: readonly string[] = allPrivileges[objectType];
  const wanted = new Set(privileges.includes("ALL") ? known : privileges);
  return known.filter((privilege) => wanted.has(privilege));
}

/** Privileges that do not apply to an object type, for render-time errors. */
export function invalidPrivileges(objectType: ObjectType, privileges: readonly string[]): string[] {
  const known: readonly string[] = allPrivileges[objectType];
  return privileges.filter((privilege) => privilege !== "ALL" && !known.includes(privilege));
}

/**
 * Reports live privileges in the desired spelling when they mean the same
 * (`ALL` stays `ALL` while every privilege is held).
 */
export function livePrivileges(objectType: ObjectType, desired: readonly string[] | undefined, held: readonly string[]): string[] {
  const heldSorted = expandPrivileges(objectType, held);
  if (desired !== undefined) {
    const wanted = expandPrivileges(objectType, desired);
    if (wanted.length === heldSorted.length && wanted.every((privilege, index) => privilege === heldSorted[index])) return [...desired];
  }
  return heldSorted;
}
