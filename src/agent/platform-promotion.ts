// The platform repository's PromotionPolicy and Pin documents, read with the
// Stack documents. A Pin holds one stack (written or generated) at a commit:
// its source is read at that revision instead of its ref. A broken or stray
// Pin is a platform problem and pins nothing; the other stacks carry on.

import { PlumbError } from "../errors.js";
import { pinKind, pinSchema, promotionPolicyKind, promotionPolicySchema, type PinDocument, type PlacedPromotionPolicy } from "../policy/promotion.js";
import type { ParsedDocument } from "../render/yaml-documents.js";
import { checkWindows } from "../schedule.js";
import { checkAgainstSchema, formatFieldPath } from "../schema-check.js";
import type { StackDocument } from "../stack-definition.js";

export interface PlacedPin {
  pin: PinDocument;
  file: string;
  line: number;
}

export interface PlatformPromotions {
  policy: PlacedPromotionPolicy | undefined;
  /** A PromotionPolicy document is in the repository but cannot be read: no promotion may pass until it can. */
  policyBroken: boolean;
  pins: PlacedPin[];
}

export function emptyPromotions(): PlatformPromotions {
  return { policy: undefined, policyBroken: false, pins: [] };
}

function schemaProblems(document: ParsedDocument, kind: string, schema: Parameters<typeof checkAgainstSchema>[0], problems: PlumbError[]): boolean {
  const found = checkAgainstSchema(schema, document.value);
  for (const problem of found)
    problems.push(
      new PlumbError("PLUMB_PROMOTION", `${kind}: ${formatFieldPath(problem.path)}: ${problem.message}`, {
        location: document.locate(problem.path),
        ...(problem.hint === undefined ? {} : { hint: problem.hint }),
      }),
    );
  return found.length > 0;
}

/** Takes the document when it is a PromotionPolicy or a Pin; false for any other kind. */
export function readPromotionDocument(document: ParsedDocument, kind: unknown, into: PlatformPromotions, problems: PlumbError[]): boolean {
  if (kind === pinKind) {
    if (schemaProblems(document, pinKind, pinSchema, problems)) return true;
    const pin = document.value as unknown as PinDocument;
    const twice = into.pins.find((other) => other.pin.metadata.name === pin.metadata.name);
    if (twice !== undefined)
      problems.push(
        new PlumbError("PLUMB_PROMOTION", `stack ${pin.metadata.name} is pinned twice; the first Pin is at ${twice.file}:${twice.line}`, {
          location: document.position,
          hint: "keep one Pin per stack (plumb promote writes pins/<stack>.yaml)",
        }),
      );
    else into.pins.push({ pin, file: document.position.file, line: document.position.line });
    return true;
  }
  if (kind !== promotionPolicyKind) return false;
  if (schemaProblems(document, promotionPolicyKind, promotionPolicySchema, problems)) {
    into.policyBroken = true;
    return true;
  }
  const placed: PlacedPromotionPolicy = {
    policy: document.value as unknown as PlacedPromotionPolicy["policy"],
    file: document.position.file,
    ruleLines:
      (document.value as unknown as PlacedPromotionPolicy["policy"]).spec.rules?.map((_, index) => document.locate(["spec", "rules", index]).line) ?? [],
  };
  try {
    for (const [index, rule] of (placed.policy.spec.rules ?? []).entries())
      checkWindows(rule.windows ?? [], `${placed.file}:${placed.ruleLines[index]} (rule ${rule.name})`);
  } catch (error) {
    if (!(error instanceof PlumbError)) throw error;
    problems.push(new PlumbError("PLUMB_PROMOTION", error.message, { ...(error.hint === undefined ? {} : { hint: error.hint }) }));
    into.policyBroken = true;
    return true;
  }
  if (into.policy !== undefined) {
    into.policyBroken = true;
    problems.push(
      new PlumbError("PLUMB_PROMOTION", `a second PromotionPolicy; the first is in ${into.policy.file}`, {
        location: document.position,
        hint: "keep one PromotionPolicy in the platform repository",
      }),
    );
  } else into.policy = placed;
  return true;
}

/** A stack as the platform holds it, with the pin that holds it at a revision, if one does. */
export interface Pinnable {
  name: string;
  document: StackDocument;
  pin?: { revision: string; file: string; line: number; promotedFrom?: string };
}

/** Reads each pinned stack's source at its pin's commit; a pin for a stack the platform does not hold is a problem. */
export function applyPins(stacks: Map<string, Pinnable>, pins: readonly PlacedPin[], problems: PlumbError[]): void {
  for (const { pin, file, line } of pins) {
    const stack = stacks.get(pin.metadata.name);
    if (stack === undefined) {
      problems.push(
        new PlumbError("PLUMB_PROMOTION", `Pin ${pin.metadata.name}: the platform has no stack of that name`, {
          location: { file, line },
          hint: "remove the Pin, or name a stack the platform defines",
        }),
      );
      continue;
    }
    const spec = stack.document.spec ?? {};
    stack.document = { ...stack.document, spec: { ...spec, source: { ...spec.source, ref: { commit: pin.spec.revision } } } };
    stack.pin = { revision: pin.spec.revision, file, line, ...(pin.spec.promotedFrom === undefined ? {} : { promotedFrom: pin.spec.promotedFrom }) };
  }
}
