// What every declaration in a program is built on: a declared resource or
// claim, the options it takes, and outputs that reference another resource.
// The kind-specific constructors (program.ts, kubernetes-kinds.ts) extend it.

import { callerSite, declare } from "./program-scope.js";

/**
 * A value another resource produces (its name in PostgreSQL, say). It becomes a
 * dependency edge, and the engine puts the value in when it plans the run.
 */
export class Output<T = string> {
  declare readonly valueType?: T;
  constructor(
    readonly resource: string,
    readonly output: string,
  ) {}

  toJSON(): { outputRef: { resource: string; output: string } } {
    return { outputRef: { resource: this.resource, output: this.output } };
  }
}

/** A spec where every top-level field may also be an output of another resource. */
export type Inputs<Spec> = { [Field in keyof Spec]: Spec[Field] | Output<Exclude<Spec[Field], undefined>> };

export interface ResourceOptions {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** The provider instance of the Stack to use; default "default". */
  provider?: string;
  /** Resources this one waits for, besides those it takes outputs from. */
  dependsOn?: readonly Declared[];
  /** `false` protects the live object from prune. */
  prune?: boolean;
  deletionPolicy?: "Delete" | "Retain";
}

/** Anything declared in a program: a provider resource or a composite claim. */
export abstract class Declared {
  readonly address: string;

  constructor(
    readonly apiVersion: string,
    readonly kind: string,
    readonly resourceName: string,
    spec: unknown,
    options: ResourceOptions = {},
  ) {
    if (typeof resourceName !== "string" || resourceName === "") throw new TypeError(`${kind}: the first argument must be a non-empty name`);
    this.address = `${apiVersion}/${kind}/${resourceName}`;
    const annotations: Record<string, string> = { ...options.annotations };
    if (options.provider !== undefined) annotations["plumb.dev/provider"] = options.provider;
    if (options.dependsOn !== undefined && options.dependsOn.length > 0)
      annotations["plumb.dev/depends-on"] = options.dependsOn.map((item) => item.address).join(",");
    if (options.prune !== undefined) annotations["plumb.dev/prune"] = String(options.prune);
    if (options.deletionPolicy !== undefined) annotations["plumb.dev/deletion-policy"] = options.deletionPolicy;
    declare({ apiVersion, kind, name: resourceName, spec: spec ?? {}, labels: { ...options.labels }, annotations, site: callerSite() });
  }

  /** An output of this resource by name, for outputs without a typed accessor. */
  output<T = string>(name: string): Output<T> {
    return new Output<T>(this.address, name);
  }
}
