// Field ownership from Kubernetes managedFields, as JSON pointers into the
// live view: fields by name, list items by their keys and by value, a
// status subresource left out, and entries that name nothing in the view.

import { describe, expect, it } from "vitest";
import { fieldOwners } from "../src/providers/kubernetes/field-owners.js";
import type { JsonObject } from "../src/sdk/resource.js";

const view: JsonObject = {
  metadata: { labels: { app: "web", "team/owner": "x" } },
  spec: {
    replicas: 5,
    template: {
      spec: {
        containers: [
          { name: "sidecar", image: "proxy:1" },
          { name: "web", image: "nginx:1.25", ports: [{ containerPort: 80, protocol: "TCP" }] },
        ],
      },
    },
    finalizers: ["a", "b"],
  },
};

describe("field owners", () => {
  it("names each manager's leaf fields as pointers, finding list items by key and by value", () => {
    const owners = fieldOwners(
      [
        { manager: "plumb", operation: "Apply", fieldsV1: { "f:metadata": { "f:labels": { "f:app": {}, "f:team/owner": {} } } } },
        {
          manager: "autoscaler",
          operation: "Update",
          fieldsV1: {
            "f:spec": {
              "f:replicas": {},
              "f:template": {
                "f:spec": {
                  "f:containers": { 'k:{"name":"web"}': { ".": {}, "f:image": {}, "f:ports": { 'k:{"containerPort":80,"protocol":"TCP"}': { ".": {} } } } },
                },
              },
              "f:finalizers": { 'v:"b"': {} },
            },
          },
        },
        { manager: "kube-controller-manager", operation: "Update", subresource: "status", fieldsV1: { "f:spec": { "f:replicas": {} } } },
        {
          manager: "gone",
          operation: "Update",
          fieldsV1: { "f:spec": { "f:paused": {}, "f:template": { "f:spec": { "f:containers": { 'k:{"name":"old"}': { "f:image": {} } } } } } },
        },
        { manager: 7, fieldsV1: {} },
      ],
      view,
    );
    expect(owners).toEqual({
      plumb: ["/metadata/labels/app", "/metadata/labels/team~1owner"],
      // A list item listed with nothing but "." is owned whole.
      autoscaler: ["/spec/replicas", "/spec/template/spec/containers/1/image", "/spec/template/spec/containers/1/ports/0", "/spec/finalizers/1"],
    });
  });

  it("reads nothing from managedFields that are not a list", () => {
    expect(fieldOwners({ manager: "x" }, view)).toEqual({});
    expect(fieldOwners(undefined, view)).toEqual({});
  });
});
