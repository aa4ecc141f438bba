// Creates a cluster's certificate authority and one certificate per host
// (`gallocy certs`). Keys are ECDSA P-256, made by Node's own WebCrypto;
// @peculiar/x509 only assembles and signs the certificates (Node can parse
// X.509 but not write it). Nothing here needs an openssl binary or its config
// files, and the output is the same on every machine that runs Node.
//
// Running it again on the same folder keeps the authority and every host
// certificate that still fits (signed by that authority, naming that host of
// this cluster), and issues only what is missing: adding a host to the
// cluster file and rerunning gives it a certificate the others already trust.
import 'reflect-metadata'; // @peculiar/x509's dependency injection needs it, before the import below
import * as x509 from '@peculiar/x509';
import { randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import type { Cluster } from './cluster.js';
import { parseAddress } from './cluster.js';
import { hostIdentityUri, hostIdOf } from './tls.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const DAY_MS = 86_400_000;
/** The authority outlives several rounds of host certificates. */
const CA_DAYS = 3650;
const HOST_DAYS = 825;
/** Started a little in the past: a peer whose clock is slightly behind must not see a certificate from the future. */
const BACKDATE_MS = 3_600_000;

export interface PemPair {
  cert: string;
  key: string;
}

function serial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f; // positive, as RFC 5280 asks
  return b.toString('hex');
}

async function keyPair(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

async function privatePem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END PRIVATE KEY-----\n`;
}

function importPrivate(pem: string): Promise<webcrypto.CryptoKey> {
  const der = Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');
  return webcrypto.subtle.importKey('pkcs8', der, ALGORITHM, false, ['sign']) as Promise<webcrypto.CryptoKey>;
}

/** A self-signed authority for cluster `clusterId`; it may sign host certificates only. */
export async function createAuthority(clusterId: string, now = new Date()): Promise<PemPair> {
  const keys = await keyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=gallocy cluster ${clusterId} authority, O=${clusterId}`,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + CA_DAYS * DAY_MS),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString('pem'), key: await privatePem(keys.privateKey) };
}

/**
 * A certificate for host `hostId` of `clusterId`, signed by `ca`: the identity
 * URI, plus the names it listens on (host names and IPs), so tools such as
 * curl or openssl can check it too. Good for both ends of a connection.
 */
export async function issueHostCertificate(ca: PemPair, clusterId: string, hostId: number, names: string[], now = new Date()): Promise<PemPair> {
  const caCert = new x509.X509Certificate(ca.cert);
  const keys = await keyPair();
  const sans: x509.JsonGeneralName[] = [{ type: 'url', value: hostIdentityUri(clusterId, hostId) }];
  for (const n of [...new Set(names)]) sans.push({ type: isIP(n) !== 0 ? 'ip' : 'dns', value: n });
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=host-${hostId}, O=${clusterId}`,
    issuer: caCert.subject,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + HOST_DAYS * DAY_MS),
    publicKey: keys.publicKey,
    signingKey: await importPrivate(ca.key),
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension(sans),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { cert: cert.toString('pem'), key: await privatePem(keys.privateKey) };
}

/** The names a host's certificate lists besides its identity: the hosts of its peer and admin addresses. */
function namesOf(h: Cluster['hosts'][number]): string[] {
  return [h.address, h.admin].flatMap((a) => {
    const p = parseAddress(a);
    return p === null ? [] : [p.host];
  });
}

export interface CertsReport {
  dir: string;
  /** Files written by this run, in order. */
  written: string[];
  /** Files already there and kept. */
  kept: string[];
  /** The cluster file's tls and adminToken lines that point at these files (paths relative to `relativeTo`). */
  snippet: string;
}

/** File names inside the output folder. */
export const CERT_FILES = {
  caCert: 'ca.crt',
  caKey: 'ca.key',
  hostCert: (id: number): string => `host-${id}.crt`,
  hostKey: (id: number): string => `host-${id}.key`,
  adminToken: 'admin.token',
} as const;

function write(file: string, text: string, secret: boolean): void {
  writeFileSync(file, text, { mode: secret ? 0o600 : 0o644 });
  chmodSync(file, secret ? 0o600 : 0o644); // mode applies only to a new file
}

/** A host certificate already in the folder that `ca` signed for this host: kept. */
function fits(certFile: string, keyFile: string, ca: X509Certificate, clusterId: string, id: number): boolean {
  if (!existsSync(certFile) || !existsSync(keyFile)) return false;
  try {
    const c = new X509Certificate(readFileSync(certFile));
    return c.checkIssued(ca) && c.verify(ca.publicKey) && hostIdOf(c.subjectAltName, clusterId) === id && new Date(c.validTo) > new Date();
  } catch {
    return false;
  }
}

/**
 * Writes into `dir` (created 0700): the authority (ca.crt, ca.key), each
 * host's certificate and key, and a random admin token. Keys and the token
 * are 0600. Keeps what is there and still fits.
 */
export async function writeClusterCerts(cluster: Cluster, dir: string, relativeTo: string): Promise<CertsReport> {
  const abs = path.resolve(dir);
  mkdirSync(abs, { recursive: true, mode: 0o700 });
  chmodSync(abs, 0o700);
  const written: string[] = [];
  const kept: string[] = [];
  const at = (name: string): string => path.join(abs, name);
  let ca: PemPair;
  if (existsSync(at(CERT_FILES.caCert)) && existsSync(at(CERT_FILES.caKey))) {
    ca = { cert: readFileSync(at(CERT_FILES.caCert), 'utf8'), key: readFileSync(at(CERT_FILES.caKey), 'utf8') };
    kept.push(at(CERT_FILES.caCert), at(CERT_FILES.caKey));
  } else {
    ca = await createAuthority(cluster.id);
    write(at(CERT_FILES.caKey), ca.key, true);
    write(at(CERT_FILES.caCert), ca.cert, false);
    written.push(at(CERT_FILES.caCert), at(CERT_FILES.caKey));
  }
  const caCert = new X509Certificate(ca.cert);
  for (const h of cluster.hosts) {
    const certFile = at(CERT_FILES.hostCert(h.id));
    const keyFile = at(CERT_FILES.hostKey(h.id));
    if (fits(certFile, keyFile, caCert, cluster.id, h.id)) {
      kept.push(certFile, keyFile);
      continue;
    }
    const pair = await issueHostCertificate(ca, cluster.id, h.id, namesOf(h));
    write(keyFile, pair.key, true);
    write(certFile, pair.cert, false);
    written.push(certFile, keyFile);
  }
  const token = at(CERT_FILES.adminToken);
  if (existsSync(token)) kept.push(token);
  else {
    write(token, `${randomBytes(32).toString('hex')}\n`, true);
    written.push(token);
  }
  const rel = (name: string): string => {
    const r = path.relative(relativeTo, at(name));
    return r.startsWith('..') || path.isAbsolute(r) ? r : `./${r}`;
  };
  const snippet = [
    'tls:',
    `  ca: ${rel(CERT_FILES.caCert)}`,
    `  cert: ${rel('host-{id}.crt')}`,
    `  key: ${rel('host-{id}.key')}`,
    `adminToken: ${rel(CERT_FILES.adminToken)}`,
  ].join('\n');
  return { dir: abs, written, kept, snippet };
}
