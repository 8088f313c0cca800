// An S3 endpoint for the tests: s3rver with the stand-in for the bucket
// settings it lacks (scripts/s3-endpoint.mjs, shared with the benchmark).

import { afterAll, beforeAll } from "vitest";
import { startS3Endpoint, type S3Endpoint } from "../scripts/s3-endpoint.mjs";

export type { S3Endpoint };

/** An S3 endpoint for the file's tests, started before them and stopped after. */
export function useS3(): S3Endpoint {
  let endpoint: S3Endpoint | undefined;
  const proxy = {} as S3Endpoint;
  beforeAll(async () => {
    endpoint = await startS3Endpoint();
    Object.assign(proxy, endpoint);
  });
  afterAll(async () => endpoint?.stop());
  return proxy;
}
