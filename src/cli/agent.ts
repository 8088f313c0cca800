// `plumb agent`: the reconciler, the REST API, the webhook receiver and the
// metrics endpoint in one process, until SIGINT or SIGTERM.

import { writeFile } from "node:fs/promises";
import path from "node:path";
import { Option, type Command } from "commander";
import pino from "pino";
import { Agent } from "../agent/agent.js";
import { AgentMetrics } from "../agent/metrics.js";
import { isSshUrl, type PlatformOrigin, type SshSettings } from "../agent/platform.js";
import type { FastifyInstance } from "fastify";
import { createAdmissionServer, type AdmissionServerOptions } from "../api/admission-server.js";
import { admissionTls } from "../api/admission-tls.js";
import { createServer } from "../api/server.js";
import { SingleSignOn } from "../api/single-sign-on.js";
import type { AdmissionEndpoint } from "../render/admission-guards.js";
import { bootstrapAdminToken } from "../api/tokens.js";
import { PlumbError } from "../errors.js";
import { probeIsolation } from "../render/isolation.js";
import { stopAllSandboxes } from "../render/sandbox.js";
import { redactor } from "../secrets/redaction.js";
import { lockDataDirectory } from "../state/directory-lock.js";
import { parseKey, readPrivateKey } from "../state/audit-checkpoints.js";
import { AuditCheckpointer, type CheckpointSettings } from "../agent/audit-checkpointer.js";
import { localSecretResolver, remembered } from "../secrets/references.js";
import { parseRef, validateRepositoryUrl } from "../source/git.js";
import { action, dataDirectoryOption, durationFlag, openStore, registry, sandboxLimits, withSandboxOptions, storeOption } from "./context.js";

interface AgentFlags {
  platform: string;
  dashboardSourceMaps?: boolean;
  ref?: string;
  path: string;
  dataDir: string;
  store?: string;
  listen: string;
  workers: string;
  platformInterval: string;
  leaseDuration: string;
  agentName?: string;
  tokenFile?: string;
  sshKey?: string;
  knownHosts?: string;
  programTimeout: string;
  programMemory: string;
  programsWithoutIsolation?: boolean;
  admissionListen?: string;
  admissionUrl?: string;
  admissionTlsCert?: string;
  admissionTlsKey?: string;
  admissionCa?: string;
  oidcIssuer?: string;
  oidcClientId?: string;
  oidcCliClientId?: string;
  oidcGroupsClaim: string;
  publicUrl?: string;
  auditKey?: string;
  auditCheckpoints?: string;
  auditCheckpointEvery: string;
  auditCheckpointInterval: string;
}

/** The checkpoint settings, when both the key and the directory are given; one without the other is a mistake. */
async function checkpointSettings(flags: AgentFlags): Promise<CheckpointSettings | undefined> {
  if (flags.auditKey === undefined && flags.auditCheckpoints === undefined) return undefined;
  if (flags.auditKey === undefined || flags.auditCheckpoints === undefined)
    throw new PlumbError("PLUMB_USAGE", "signed audit checkpoints need both --audit-key and --audit-checkpoints", {
      hint: "make a key with plumb audit keygen, and give a directory outside the store (write-once storage, another host's mount)",
    });
  // secret:<name>/<key> reads the key through the local secret store (an environment variable, or a file under PLUMB_SECRETS_DIR such as a mounted secret).
  const fromSecret = /^secret:([^/]+)\/(.+)$/.exec(flags.auditKey);
  const privateKey =
    fromSecret === null
      ? await readPrivateKey(flags.auditKey)
      : parseKey(
          await localSecretResolver().resolve({ secretRef: { name: fromSecret[1] as string, key: fromSecret[2] as string } }),
          `--audit-key ${flags.auditKey}`,
          "private",
        );
  return {
    privateKey,
    directory: path.resolve(flags.auditCheckpoints),
    every: positiveInteger(flags.auditCheckpointEvery, "--audit-checkpoint-every"),
    intervalMs: durationFlag(flags.auditCheckpointInterval, "--audit-checkpoint-interval"),
  };
}

function sshSettings(flags: AgentFlags): SshSettings {
  return {
    ...(flags.sshKey === undefined ? {} : { sshKeyFile: path.resolve(flags.sshKey) }),
    ...(flags.knownHosts === undefined ? {} : { knownHostsFile: path.resolve(flags.knownHosts) }),
  };
}

function platformOrigin(flags: AgentFlags): PlatformOrigin {
  if (/^[a-z+]+:\/\/|^[^/]+@[^/]+:/.test(flags.platform)) {
    const url = validateRepositoryUrl(flags.platform, "--platform");
    return { kind: "git", source: { url, ref: parseRef(flags.ref, "--ref"), ...(isSshUrl(url) ? { credentials: sshSettings(flags) } : {}) }, path: flags.path };
  }
  return { kind: "local", root: path.resolve(flags.platform), path: flags.path };
}

function listenAddress(text: string, flag = "--listen"): { host: string; port: number } {
  const match = /^(.*):([0-9]{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (match === null || port > 65535)
    throw new PlumbError("PLUMB_USAGE", `${flag} "${text}" is not host:port`, { hint: `e.g. ${flag} 127.0.0.1:8443 (port 0 picks a free one)` });
  return { host: match[1] === "" ? "127.0.0.1" : (match[1] as string), port };
}

/**
 * The admission webhook for sync.preventDrift, when --admission-listen asks
 * for it: listening before the agent starts, so its URL and CA go into the
 * first render. `review` reaches the agent once it exists.
 */
async function startAdmission(
  flags: AgentFlags,
  dataDirectory: string,
  logger: pino.Logger,
  review: AdmissionServerOptions["review"],
): Promise<{ server: FastifyInstance; endpoint: AdmissionEndpoint } | undefined> {
  if (flags.admissionListen === undefined) {
    if (flags.admissionUrl !== undefined)
      throw new PlumbError("PLUMB_USAGE", "--admission-url needs --admission-listen", { hint: "e.g. --admission-listen 0.0.0.0:8443" });
    return undefined;
  }
  const { host, port } = listenAddress(flags.admissionListen, "--admission-listen");
  let url: URL | undefined;
  if (flags.admissionUrl !== undefined) {
    url = URL.canParse(flags.admissionUrl) ? new URL(flags.admissionUrl) : undefined;
    if (url?.protocol !== "https:" || url.search !== "" || url.hash !== "")
      throw new PlumbError("PLUMB_USAGE", `--admission-url "${flags.admissionUrl}" is not an https URL`, {
        hint: "the address the Kubernetes API server reaches this agent at, e.g. https://plumb.platform.svc:8443",
      });
  } else if (host === "0.0.0.0" || host === "::") {
    throw new PlumbError("PLUMB_USAGE", `--admission-listen ${flags.admissionListen} listens everywhere; the API server needs one address to call`, {
      hint: "add --admission-url https://<host the API server reaches>:<port>",
    });
  }
  const tlsHost = (url?.hostname ?? host).replace(/^\[|\]$/g, "");
  const tls = await admissionTls({
    directory: path.join(dataDirectory, "admission"),
    host: tlsHost,
    ...(flags.admissionTlsCert === undefined ? {} : { certFile: flags.admissionTlsCert }),
    ...(flags.admissionTlsKey === undefined ? {} : { keyFile: flags.admissionTlsKey }),
    ...(flags.admissionCa === undefined ? {} : { caFile: flags.admissionCa }),
  });
  const server = await createAdmissionServer({ key: tls.key, cert: tls.cert, review, logger });
  const listening = new URL(await server.listen({ host, port }));
  const base = url ?? new URL(`https://${host.includes(":") ? `[${host}]` : host}:${listening.port}`);
  logger.info({ url: base.origin }, "admission webhook listening");
  return { server, endpoint: { url: `${base.origin}${base.pathname.replace(/\/$/, "")}/admission/v1`, caBundle: tls.caBundle } };
}

/** Single sign-on when --oidc-issuer is given, with everything it needs or a usage error saying what is missing. */
function singleSignOnFrom(flags: AgentFlags): SingleSignOn | undefined {
  if (flags.oidcIssuer === undefined) return undefined;
  const missing = [flags.oidcClientId === undefined ? "--oidc-client-id" : "", flags.publicUrl === undefined ? "--public-url" : ""].filter(
    (flag) => flag !== "",
  );
  if (missing.length > 0)
    throw new PlumbError("PLUMB_USAGE", `--oidc-issuer needs ${missing.join(" and ")}`, {
      hint: "e.g. --oidc-client-id plumb --public-url https://plumb.example.org",
    });
  for (const [flag, value] of [
    ["--oidc-issuer", flags.oidcIssuer],
    ["--public-url", flags.publicUrl],
  ] as const)
    if (!URL.canParse(value ?? "") || !/^https?:$/.test(new URL(value ?? "").protocol))
      throw new PlumbError("PLUMB_USAGE", `${flag} "${value ?? ""}" is not an http(s) URL`, { hint: "e.g. https://login.example.org/realms/platform" });
  return new SingleSignOn({
    issuer: flags.oidcIssuer,
    clientId: flags.oidcClientId as string,
    // Handed to the redaction layer like any resolved secret, should a provider's error ever echo it.
    clientSecret: process.env.PLUMB_OIDC_CLIENT_SECRET === undefined ? undefined : remembered(process.env.PLUMB_OIDC_CLIENT_SECRET),
    cliClientId: flags.oidcCliClientId,
    publicUrl: flags.publicUrl as string,
    groupsClaim: flags.oidcGroupsClaim,
  });
}

function positiveInteger(text: string, flag: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > 1024)
    throw new PlumbError("PLUMB_USAGE", `${flag} "${text}" is not a whole number from 1 to 1024`, { hint: `e.g. ${flag} 4` });
  return value;
}

export function registerAgent(program: Command): void {
  withSandboxOptions(program.command("agent"))
    .description("pull stacks from the platform source, apply them, watch for drift, and serve the API")
    .addOption(
      new Option("--platform <dir-or-url>", "the platform repository: a local directory or a git URL holding Stack documents")
        .env("PLUMB_PLATFORM")
        .makeOptionMandatory(),
    )
    .addOption(new Option("--ref <ref>", "branch, tag or commit of a git platform (default main)").env("PLUMB_PLATFORM_REF"))
    .addOption(
      new Option("--path <path>", "directory inside the platform source that holds the Stack documents (stack paths stay relative to the root)")
        .env("PLUMB_PLATFORM_PATH")
        .default("."),
    )
    .addOption(dataDirectoryOption())
    .addOption(storeOption())
    .addOption(new Option("--listen <host:port>", "where the API listens").env("PLUMB_LISTEN").default("127.0.0.1:8080"))
    .addOption(new Option("--workers <n>", "stacks worked on at once").env("PLUMB_WORKERS").default("4"))
    .option("--platform-interval <duration>", "how often the platform source is re-read", "30s")
    .addOption(
      new Option(
        "--lease-duration <duration>",
        "with several agents on one PostgreSQL store: how long a stack stays with an agent that stopped renewing (the longest failover); renewed every third of it",
      )
        .env("PLUMB_LEASE_DURATION")
        .default("15s"),
    )
    .addOption(new Option("--agent-name <name>", "this agent's name in runs, logs and /api/v1/agents (default host:pid)").env("PLUMB_AGENT_NAME"))
    .addOption(
      new Option("--dashboard-source-maps", "serve the dashboard's source maps (for debugging it; they publish its source)").env("PLUMB_DASHBOARD_SOURCE_MAPS"),
    )
    .addOption(new Option("--token-file <file>", "also write the bootstrap admin token here (mode 0600) on first start").env("PLUMB_TOKEN_FILE"))
    .option("--ssh-key <file>", "private key for ssh repository URLs")
    .option("--known-hosts <file>", "known_hosts file that ssh servers' keys must be in (host keys are always checked)")
    .option("--admission-listen <host:port>", "serve the admission webhook that stacks with sync.preventDrift use (HTTPS)")
    .option("--admission-url <url>", "the https URL the Kubernetes API server reaches that webhook at (default https://<listen host>:<port>)")
    .option("--admission-tls-cert <file>", "the webhook's serving certificate (default: one the agent makes, kept in the data directory)")
    .option("--admission-tls-key <file>", "its private key")
    .option("--admission-ca <file>", "the CA that signed it, written into the cluster's webhook configuration")
    .addOption(new Option("--oidc-issuer <url>", "single sign-on: the OpenID Connect provider").env("PLUMB_OIDC_ISSUER"))
    .addOption(
      new Option("--oidc-client-id <id>", "the dashboard's client at that provider (its secret, if any, from PLUMB_OIDC_CLIENT_SECRET)").env(
        "PLUMB_OIDC_CLIENT_ID",
      ),
    )
    .addOption(
      new Option("--oidc-cli-client-id <id>", "the public client plumb login uses; its ID tokens are accepted as bearer tokens").env(
        "PLUMB_OIDC_CLI_CLIENT_ID",
      ),
    )
    .addOption(new Option("--oidc-groups-claim <claim>", "the ID token claim listing a person's groups").default("groups"))
    .addOption(
      new Option(
        "--audit-key <file>",
        "sign audit checkpoints with this Ed25519 private key (plumb audit keygen), a file or secret:<name>/<key>; kept outside the store",
      ).env("PLUMB_AUDIT_KEY"),
    )
    .addOption(
      new Option("--audit-checkpoints <dir>", "write signed audit checkpoints here: a directory outside the store, ideally write-once storage").env(
        "PLUMB_AUDIT_CHECKPOINTS",
      ),
    )
    .option("--audit-checkpoint-every <events>", "sign a checkpoint once this many events are new", "100")
    .option("--audit-checkpoint-interval <duration>", "…or this long after the last one, when fewer are", "1m")
    .addOption(
      new Option("--public-url <url>", "the agent's address as browsers reach it (the sign-in redirect comes back to <url>/auth/callback)").env(
        "PLUMB_PUBLIC_URL",
      ),
    )
    .addHelpText(
      "after",
      "\nThe webhook secret comes from PLUMB_WEBHOOK_SECRET; without it /hooks/git refuses every request.\n\nExamples:\n  $ plumb agent --platform examples --path platform\n  $ plumb agent --platform https://git.example.org/platform.git --ref main --path stacks",
    )
    .action(
      action(async (flags: AgentFlags) => {
        const origin = platformOrigin(flags);
        const { host, port } = listenAddress(flags.listen);
        const workers = positiveInteger(flags.workers, "--workers");
        const platformIntervalMs = durationFlag(flags.platformInterval, "--platform-interval");
        const leaseDurationMs = durationFlag(flags.leaseDuration, "--lease-duration");
        if (leaseDurationMs < 1_000 || leaseDurationMs > 600_000)
          throw new PlumbError("PLUMB_USAGE", `--lease-duration ${flags.leaseDuration} is outside 1s to 10m`, {
            hint: "a few times the longest pause an agent may take (15s by default); failover takes up to this long",
          });
        const logger = pino({
          level: process.env.PLUMB_LOG_LEVEL ?? "info",
          base: { service: "plumb-agent" },
          hooks: { streamWrite: (line) => redactor.redact(line) },
        });
        const checkpoints = await checkpointSettings(flags);
        const dataDirectory = path.resolve(flags.dataDir);
        const directoryLock = await lockDataDirectory(dataDirectory);
        const store = await openStore({ dataDir: dataDirectory, ...(flags.store === undefined ? {} : { store: flags.store }) });
        const metrics = new AgentMetrics();
        const secrets = localSecretResolver();
        // The webhook listens first (its URL and CA go into every render); it answers once the agent exists.
        const started: { agent?: Agent } = {};
        const admission = await startAdmission(flags, dataDirectory, logger, async (stack, instance, body) => {
          if (started.agent === undefined) throw new PlumbError("PLUMB_PROVIDER_TRANSIENT", "the agent is starting");
          return started.agent.admission.review(stack, instance, body);
        });
        const agent = new Agent({
          store,
          registry,
          secrets,
          platform: origin,
          ssh: sshSettings(flags),
          cacheDirectory: path.join(dataDirectory, "cache"),
          logger,
          metrics,
          workers,
          platformIntervalMs,
          lease: { durationMs: leaseDurationMs, ...(flags.agentName === undefined ? {} : { agentName: flags.agentName }) },
          ...(flags.publicUrl === undefined ? {} : { publicUrl: flags.publicUrl }),
          sandboxLimits: sandboxLimits(flags),
          ...(admission === undefined ? {} : { admission: admission.endpoint }),
        });
        started.agent = agent;
        const token = await bootstrapAdminToken(store);
        if (token !== undefined) {
          process.stderr.write(`Bootstrap admin token (shown once, store it now): ${token}\n`);
          if (flags.tokenFile !== undefined) await writeFile(flags.tokenFile, `${token}\n`, { mode: 0o600 });
        }
        const singleSignOn = singleSignOnFrom(flags);
        const server = await createServer({
          ...(singleSignOn === undefined ? {} : { singleSignOn }),
          queries: agent.queries,
          commands: agent,
          metrics,
          logger,
          webhookSecret: process.env.PLUMB_WEBHOOK_SECRET,
          version: program.version() ?? "0.0.0",
          dashboardSourceMaps: flags.dashboardSourceMaps === true,
        });
        const address = await server.listen({ host, port });
        directoryLock.describe({ address });
        logger.info({ address }, "listening");
        process.stderr.write(`plumb agent listening on ${address}\n`);
        const isolation = await probeIsolation();
        if (isolation.available) logger.info("programs and composites run in kernel namespaces (bubblewrap): no network, no host files");
        else if (flags.programsWithoutIsolation === true) {
          logger.warn(
            { reason: isolation.reason },
            "programs and composites run WITHOUT kernel isolation (--programs-without-isolation): they can reach the network",
          );
          process.stderr.write(`warning: programs and composites run without kernel isolation (${isolation.reason}); they can reach the network\n`);
        } else {
          logger.warn({ reason: isolation.reason }, "programs and composites cannot be isolated; stacks with programs or claims will be refused");
          process.stderr.write(
            `warning: ${isolation.reason}: stacks with programs or composite claims are refused; install bubblewrap or pass --programs-without-isolation\n`,
          );
        }
        await agent.start();
        const checkpointer = checkpoints === undefined ? undefined : new AuditCheckpointer(store, checkpoints, logger);
        checkpointer?.start();
        await new Promise<void>((resolve) => {
          const shutdown = () => resolve();
          process.once("SIGINT", shutdown);
          process.once("SIGTERM", shutdown);
        });
        logger.info("shutting down");
        // A client that stops reading a response keeps its connection busy; it gets a few seconds, not the whole grace period.
        const cutSlowClients = setTimeout(() => server.server.closeAllConnections(), 5_000);
        await server.close();
        clearTimeout(cutSlowClients);
        await admission?.server.close();
        await agent.stop();
        await checkpointer?.stop();
        stopAllSandboxes();
        await store.close();
        directoryLock.release();
      }),
    );
}
