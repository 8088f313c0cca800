// Types for scripts/s3-endpoint.mjs, so TypeScript tests can import it.
export interface S3Endpoint {
  url: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** The stand-in's settings of one bucket, as last put (the raw request bodies). */
  standIn(bucket: string): Map<string, string>;
  stop(): Promise<void>;
}
export declare function startS3Endpoint(): Promise<S3Endpoint>;
