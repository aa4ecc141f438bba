// Who a peer is, in real mode with mutual TLS: every host holds a certificate
// signed by its cluster's authority, and the host id and cluster id travel in
// it as one URI in the subject alternative names,
//
//   gallocy://cluster/<cluster id>/host/<host id>
//
// so a connection's sender is whatever the handshake proved, never what a
// frame claims. A certificate of another cluster fails twice: its authority is
// not ours, and its URI names another cluster. This module reads and checks a
// host's files at startup (a wrong file is the operator's error, named at
// once) and reads the identity of a peer's certificate.
import { readFileSync } from 'node:fs';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { InputError } from '../input/errors.js';
import type { TlsFiles } from './cluster.js';

const URI_PREFIX = 'gallocy://cluster/';

/** The identity URI a host's certificate carries. */
export function hostIdentityUri(clusterId: string, hostId: number): string {
  return `${URI_PREFIX}${clusterId}/host/${hostId}`;
}

/**
 * The host id a certificate of cluster `clusterId` names, or null (no such
 * URI, another cluster, or more than one host named). `subjectAltName` is
 * Node's rendering: entries joined by ", ", a URI as "URI:...".
 */
export function hostIdOf(subjectAltName: string | undefined, clusterId: string): number | null {
  if (subjectAltName === undefined) return null;
  const prefix = `URI:${URI_PREFIX}${clusterId}/host/`;
  const ids = subjectAltName.split(', ').flatMap((entry) => {
    if (!entry.startsWith(prefix)) return [];
    const rest = entry.slice(prefix.length);
    return /^[1-9]\d{0,9}$/.test(rest) && Number(rest) <= 0xffffffff ? [Number(rest)] : [];
  });
  return ids.length === 1 ? ids[0]! : null;
}

/** What a host presents and trusts, read once at startup. */
export interface TlsMaterial {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

function read(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new InputError(`${file}: cannot read ${what} (${code}); \`gallocy certs --cluster FILE --out DIR\` creates it`);
  }
}

function certificate(file: string, pem: Buffer, what: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new InputError(`${file}: expected ${what} in PEM form (${(err as Error).message})`);
  }
}

/**
 * Reads host `hostId`'s files and checks they fit together: the certificate
 * is signed by the authority, names this host of this cluster, is valid now,
 * and the key is its private key. Each failure is an InputError naming the file.
 */
export function loadTlsMaterial(files: TlsFiles, clusterId: string, hostId: number, now: Date = new Date()): TlsMaterial {
  const ca = read(files.ca, 'the cluster\'s certificate authority');
  const cert = read(files.cert, `host ${hostId}'s certificate`);
  const key = read(files.key, `host ${hostId}'s private key`);
  const caCert = certificate(files.ca, ca, 'a certificate authority');
  const hostCert = certificate(files.cert, cert, 'a certificate');
  if (!caCert.ca) throw new InputError(`${files.ca}: expected a certificate authority (basic constraints CA:TRUE), got an end certificate`);
  if (!hostCert.checkIssued(caCert) || !hostCert.verify(caCert.publicKey)) {
    throw new InputError(`${files.cert}: not signed by the authority in ${files.ca}: both must come from one \`gallocy certs\` run for this cluster`);
  }
  const named = hostIdOf(hostCert.subjectAltName, clusterId);
  if (named !== hostId) {
    throw new InputError(`${files.cert}: expected a certificate naming ${hostIdentityUri(clusterId, hostId)}, got ${hostCert.subjectAltName ?? 'no subject alternative names'}`);
  }
  if (now < new Date(hostCert.validFrom) || now > new Date(hostCert.validTo)) {
    throw new InputError(`${files.cert}: expected a certificate valid now, it is valid from ${hostCert.validFrom} to ${hostCert.validTo}`);
  }
  let ok: boolean;
  try {
    ok = hostCert.checkPrivateKey(createPrivateKey(key));
  } catch (err) {
    throw new InputError(`${files.key}: expected a private key in PEM form (${(err as Error).message})`);
  }
  if (!ok) throw new InputError(`${files.key}: not the private key of the certificate ${files.cert}`);
  return { ca, cert, key };
}
