// The bearer token that guards /admin and /metrics: read from the file the
// cluster file names (`adminToken`; `gallocy certs` writes one). A host whose
// admin port is reachable from other machines must have one: its status names
// terms, indexes and hosts, which is what an outsider needs to forge messages.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { InputError } from '../input/errors.js';
import type { Cluster } from './cluster.js';

/** Loopback only: 127.0.0.0/8, ::1, localhost. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/** The token, or undefined when the cluster has none (allowed only for an admin bound to loopback). */
export function adminTokenOf(cluster: Cluster, adminHost: string): string | undefined {
  if (cluster.adminToken === undefined) {
    if (isLoopback(adminHost)) return undefined;
    throw new InputError(
      `cluster "${cluster.name}": admin address ${adminHost} is not loopback, so adminToken is required: `
      + 'a file holding the token /admin and /metrics then ask for (`gallocy certs` writes one)',
    );
  }
  return readAdminToken(cluster.adminToken);
}

/** The token in `file` (surrounding white space dropped). */
export function readAdminToken(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new InputError(`${file}: cannot read the admin token (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (!/^\S{16,}$/.test(text)) throw new InputError(`${file}: expected one token of at least 16 non-space characters`);
  return text;
}
