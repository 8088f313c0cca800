// The render stage's problems: every one found is reported together (so one
// edit-and-retry fixes them all), the first hundred in full with file:line,
// the rest only counted.

import { maxReportedProblems, moreProblems, PlumbError, PlumbErrorList, type ErrorCode } from "../errors.js";
import type { SourcePosition } from "../sdk/resource.js";
import { formatFieldPath, type SchemaProblem } from "../schema-check.js";
import type { ParsedDocument } from "./yaml-documents.js";

/** The render's problems: the first hundred in full, the rest only counted (no positions looked up for them). */
export class Problems {
  readonly errors: PlumbError[] = [];
  private omitted = 0;

  private full(): boolean {
    if (this.errors.length < maxReportedProblems) return false;
    this.omitted++;
    return true;
  }

  push(...errors: PlumbError[]): void {
    for (const error of errors) if (!this.full()) this.errors.push(error);
  }

  add(code: ErrorCode, message: string, location: SourcePosition & { resource?: string }, hint?: string): void {
    if (!this.full()) this.errors.push(new PlumbError(code, message, { location, ...(hint === undefined ? {} : { hint }) }));
  }

  addSchema(code: ErrorCode, problems: readonly SchemaProblem[], document: ParsedDocument, basePath: (string | number)[], resource?: string): void {
    for (const problem of problems) {
      if (this.full()) continue;
      const fullPath = [...basePath, ...problem.path];
      this.add(
        code,
        `${formatFieldPath(fullPath)}: ${problem.message}`,
        { ...document.locate(fullPath), ...(resource === undefined ? {} : { resource }) },
        problem.hint,
      );
    }
  }

  throwIfAny(): void {
    if (this.errors.length > 0) throw new PlumbErrorList(this.omitted === 0 ? this.errors : [...this.errors, moreProblems(this.omitted)]);
  }
}
