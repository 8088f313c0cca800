// Types for scripts/embedded-postgres.mjs, so TypeScript tests can import it.
export declare function startEmbeddedPostgres(options: {
  port: number;
  password: string;
  directory?: string;
}): Promise<{ stop(): Promise<void>; restart(): Promise<void> }>;
