// A platform repository with two projects, alpha and beta, a file stack in
// each (a-app, b-app) on provider instances of their own, and who of the
// identity provider's groups holds which role there: for the authorization and
// single sign-on tests.

import path from "node:path";
import type { TestRepository } from "./git-repository.js";

export function writeTwoProjects(repository: TestRepository, outputDirectory: string, members: { alpha?: string; beta?: string } = {}): void {
  repository.write(
    "platform/projects.yaml",
    [
      `apiVersion: plumb.dev/v1\nkind: ProviderInstance\nmetadata: { name: alpha-files }\nspec: { type: file, config: { root: ${JSON.stringify(path.join(outputDirectory, "alpha"))} } }`,
      `apiVersion: plumb.dev/v1\nkind: ProviderInstance\nmetadata: { name: beta-files }\nspec: { type: file, config: { root: ${JSON.stringify(path.join(outputDirectory, "beta"))} } }`,
      `apiVersion: plumb.dev/v1\nkind: Project\nmetadata: { name: alpha }\nspec: { providers: [alpha-files]${members.alpha === undefined ? "" : `, members: ${members.alpha}`} }`,
      `apiVersion: plumb.dev/v1\nkind: Project\nmetadata: { name: beta }\nspec: { providers: [beta-files]${members.beta === undefined ? "" : `, members: ${members.beta}`} }`,
    ].join("\n---\n") + "\n",
  );
  for (const [stack, project] of [
    ["a-app", "alpha"],
    ["b-app", "beta"],
  ] as const) {
    repository.write(
      `platform/${stack}.yaml`,
      `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: ${stack} }\nspec:\n  project: ${project}\n  source: { path: apps/${stack} }\n  providers: { default: { instance: ${project}-files } }\n  sync: { auto: true, interval: 1h, driftInterval: 1h }\n`,
    );
    repository.write(
      `apps/${stack}/file.yaml`,
      `apiVersion: file.plumb.dev/v1\nkind: File\nmetadata: { name: note }\nspec: { path: note.txt, content: ${stack} }\n`,
    );
  }
}
