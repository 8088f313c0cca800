// What a developer can ask for: the platform's composite kinds, from their schemas.

import { useEffect, useState } from "react";
import { api } from "./api.js";

interface CompositeDoc {
  apiVersion: string;
  kind: string;
  description: string;
  file: string;
  fields: { path: string; type: string; required: boolean; default?: unknown; description: string; constraints: string[] }[];
  examples: { title: string; yaml: string }[];
}

export function DocsPage() {
  const [items, setItems] = useState<CompositeDoc[] | null>(null);
  useEffect(() => {
    api<{ items: CompositeDoc[] }>("/api/v1/composites").then(
      (result) => setItems(result.items),
      () => setItems([]),
    );
  }, []);
  return (
    <main>
      <h1>Composite kinds</h1>
      {items !== null && items.length === 0 ? <p className="empty">The platform defines no composite kinds.</p> : null}
      {(items ?? []).map((doc) => (
        <section key={`${doc.apiVersion}/${doc.kind}`} className="card">
          <h2>
            {doc.kind} <code>{doc.apiVersion}</code>
          </h2>
          <p>{doc.description}</p>
          <div className="scroll" tabIndex={0} role="region" aria-label={`Fields of ${doc.kind}`}>
            <table>
              <thead>
                <tr>
                  <th scope="col">Field</th>
                  <th scope="col">Type</th>
                  <th scope="col">Required</th>
                  <th scope="col">Default</th>
                  <th scope="col">Description</th>
                </tr>
              </thead>
              <tbody>
                {doc.fields.map((field) => (
                  <tr key={field.path}>
                    <td>
                      <code>spec.{field.path}</code>
                    </td>
                    <td>{field.type}</td>
                    <td>{field.required ? "yes" : "no"}</td>
                    <td>{field.default === undefined ? "" : <code>{JSON.stringify(field.default)}</code>}</td>
                    <td>{[field.description, ...field.constraints.map((constraint) => `(${constraint})`)].join(" ")}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {doc.examples.map((example) => (
            <details key={example.title}>
              <summary>{example.title}</summary>
              <pre>{example.yaml}</pre>
            </details>
          ))}
        </section>
      ))}
    </main>
  );
}
