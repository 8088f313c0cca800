// The admission webhook's TLS: a certificate the operator gives (from
// cert-manager or the organisation's CA), or one the agent makes itself — a
// CA and a serving certificate kept in the data directory, so the CA bundle
// written into the cluster stays the same across restarts. The serving
// certificate names the host of the URL the API server is given.

import { X509Certificate, generateKeyPairSync } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import path from "node:path";
import forge from "node-forge";
import { PlumbError } from "../errors.js";

export interface AdmissionTls {
  key: string;
  cert: string;
  /** The CA (PEM) that signs `cert`: what the cluster's webhook configuration trusts. */
  caBundle: string;
}

/** Renewed when it would expire within this; made for a year. */
const renewBeforeMs = 30 * 24 * 3600_000;

async function readIfThere(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

async function readGiven(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    throw new PlumbError("PLUMB_USAGE", `cannot read the admission ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, {
      hint: "give --admission-tls-cert, --admission-tls-key and --admission-ca together, or none of them to let the agent make its own",
    });
  }
}

function keyPair(): { privatePem: string; forgePrivate: forge.pki.rsa.PrivateKey; forgePublic: forge.pki.rsa.PublicKey } {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const privatePem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  return {
    privatePem,
    forgePrivate: forge.pki.privateKeyFromPem(privatePem),
    forgePublic: forge.pki.publicKeyFromPem(publicKey.export({ type: "spki", format: "pem" }).toString()),
  };
}

function certificate(options: {
  subject: string;
  issuer: forge.pki.Certificate | undefined;
  publicKey: forge.pki.rsa.PublicKey;
  signingKey: forge.pki.rsa.PrivateKey;
  days: number;
  host?: string;
}): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = options.publicKey;
  // A positive serial: a leading zero nibble keeps the DER integer from reading as negative.
  cert.serialNumber = `0${forge.util.bytesToHex(forge.random.getBytesSync(15))}`;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + options.days * 24 * 3600_000);
  cert.setSubject([{ name: "commonName", value: options.subject }]);
  cert.setIssuer((options.issuer ?? cert).subject.attributes);
  if (options.host === undefined) {
    cert.setExtensions([
      { name: "basicConstraints", cA: true, critical: true },
      { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    ]);
  } else {
    const altName = isIP(options.host) === 0 ? { type: 2, value: options.host } : { type: 7, ip: options.host };
    cert.setExtensions([
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
      { name: "extKeyUsage", serverAuth: true },
      { name: "subjectAltName", altNames: [altName] },
    ]);
  }
  cert.sign(options.signingKey, forge.md.sha256.create());
  return cert;
}

/** The agent's own CA and serving certificate for `host`, made once and kept under `directory`. */
async function ownTls(directory: string, host: string): Promise<AdmissionTls> {
  await mkdir(directory, { recursive: true, mode: 0o700 });
  const files = {
    ca: path.join(directory, "ca.crt"),
    caKey: path.join(directory, "ca.key"),
    cert: path.join(directory, "tls.crt"),
    key: path.join(directory, "tls.key"),
  };
  let caPem = await readIfThere(files.ca);
  let caKeyPem = await readIfThere(files.caKey);
  if (caPem === undefined || caKeyPem === undefined) {
    const pair = keyPair();
    caPem = forge.pki.certificateToPem(
      certificate({ subject: "plumb admission CA", issuer: undefined, publicKey: pair.forgePublic, signingKey: pair.forgePrivate, days: 3650 }),
    );
    caKeyPem = pair.privatePem;
    await writeFile(files.caKey, caKeyPem, { mode: 0o600 });
    await writeFile(files.ca, caPem);
  }
  const certPem = await readIfThere(files.cert);
  const keyPem = await readIfThere(files.key);
  if (certPem !== undefined && keyPem !== undefined) {
    const current = new X509Certificate(certPem);
    if (current.checkHost(host) !== undefined || current.checkIP(host) !== undefined) {
      if (Date.parse(current.validTo) - Date.now() > renewBeforeMs && current.verify(new X509Certificate(caPem).publicKey))
        return { key: keyPem, cert: certPem, caBundle: caPem };
    }
  }
  const pair = keyPair();
  const ca = forge.pki.certificateFromPem(caPem);
  const cert = forge.pki.certificateToPem(
    certificate({ subject: "plumb admission", issuer: ca, publicKey: pair.forgePublic, signingKey: forge.pki.privateKeyFromPem(caKeyPem), days: 365, host }),
  );
  await writeFile(files.key, pair.privatePem, { mode: 0o600 });
  await writeFile(files.cert, cert);
  return { key: pair.privatePem, cert, caBundle: caPem };
}

export async function admissionTls(options: { directory: string; host: string; certFile?: string; keyFile?: string; caFile?: string }): Promise<AdmissionTls> {
  const given = [options.certFile, options.keyFile, options.caFile].filter((file) => file !== undefined).length;
  if (given === 0) return ownTls(options.directory, options.host);
  if (given !== 3 || options.certFile === undefined || options.keyFile === undefined || options.caFile === undefined)
    throw new PlumbError("PLUMB_USAGE", "--admission-tls-cert, --admission-tls-key and --admission-ca go together", {
      hint: "give all three, or none to let the agent make its own CA and certificate",
    });
  return {
    cert: await readGiven(options.certFile, "certificate"),
    key: await readGiven(options.keyFile, "key"),
    caBundle: await readGiven(options.caFile, "CA"),
  };
}
