// An S3 endpoint for tests and benchmarks: the \`s3rver\` package (a real
// S3-protocol server: buckets, CORS, objects; it checks access key ids but not
// V4 signatures) behind a front that answers, in memory, the bucket settings
// s3rver does not implement — tagging, versioning, lifecycle, default
// encryption, the public-access block and the bucket policy. That front is a
// stand-in written from the S3 API reference (its XML shapes and its "not
// configured" error codes), not a server: it keeps what was put and gives it
// back, and checks no signature. It is named a stand-in wherever a test or a
// benchmark leans on it.

import { mkdtempSync, rmSync } from "node:fs";
import { createServer, request } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import S3rver from "s3rver";

/** Settings s3rver answers NotImplemented for, with S3's error code when one is not set. */
const standInSettings = {
  tagging: "NoSuchTagSet",
  versioning: undefined,
  lifecycle: "NoSuchLifecycleConfiguration",
  encryption: "ServerSideEncryptionConfigurationNotFoundError",
  publicAccessBlock: "NoSuchPublicAccessBlockConfiguration",
  policy: "NoSuchBucketPolicy",
};

const listen = (server) =>
  new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      resolve(server.address().port);
    }),
  );

async function body(incoming) {
  const chunks = [];
  for await (const chunk of incoming) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

export async function startS3Endpoint() {
  const directory = mkdtempSync(path.join(tmpdir(), "plumb-s3-"));
  const s3rver = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory });
  const { port: s3rverPort } = await s3rver.run();
  const settings = new Map();
  const forOne = (bucket) => {
    if (!settings.has(bucket)) settings.set(bucket, new Map());
    return settings.get(bucket);
  };

  async function handleSetting(incoming, response, bucket, setting) {
    const stored = forOne(bucket);
    if (incoming.method === "PUT") {
      stored.set(setting, await body(incoming));
      response.writeHead(setting === "tagging" || setting === "policy" ? 204 : 200).end();
    } else if (incoming.method === "DELETE") {
      stored.delete(setting);
      response.writeHead(204).end();
    } else if (stored.has(setting)) {
      response.writeHead(200, { "content-type": setting === "policy" ? "application/json" : "application/xml" }).end(stored.get(setting));
    } else if (setting === "versioning") {
      response.writeHead(200, { "content-type": "application/xml" }).end('<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>');
    } else {
      const code = standInSettings[setting];
      response
        .writeHead(404, { "content-type": "application/xml" })
        .end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${code}</Message></Error>`);
    }
  }

  const front = createServer((incoming, response) => {
    const address = new URL(incoming.url ?? "/", "http://front");
    const parts = address.pathname.split("/").filter((part) => part !== "");
    const setting = Object.keys(standInSettings).find((name) => address.searchParams.has(name));
    if (parts.length === 1 && setting !== undefined) {
      handleSetting(incoming, response, decodeURIComponent(parts[0]), setting).catch(() => response.writeHead(500).end());
      return;
    }
    if (parts.length === 1 && incoming.method === "DELETE") settings.delete(decodeURIComponent(parts[0]));
    // Everything else goes to s3rver as it came, Host header included.
    const forwarded = request({ host: "127.0.0.1", port: s3rverPort, method: incoming.method, path: incoming.url, headers: incoming.headers }, (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
    });
    forwarded.on("error", () => response.writeHead(502).end());
    incoming.pipe(forwarded);
  });
  const port = await listen(front);
  return {
    url: `http://127.0.0.1:${port}`,
    accessKeyId: "S3RVER",
    secretAccessKey: "S3RVER",
    standIn: (bucket) => forOne(bucket),
    async stop() {
      await new Promise((resolve) => front.close(resolve));
      await s3rver.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
