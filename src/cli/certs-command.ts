// `gallocy certs --cluster FILE --out DIR`: creates the cluster's certificate
// authority, each host's key and certificate, and an admin token in DIR (see
// src/real/certs.ts), then says whether the cluster file already points at
// them and, if not, prints the lines to add.
import path from 'node:path';
import { EXIT_OK } from '../input/errors.js';
import { tlsFilesOf } from '../real/cluster.js';
import { loadCluster } from '../real/cluster-file.js';
import { CERT_FILES, writeClusterCerts } from '../real/certs.js';

export interface CertsArgs {
  cluster: string;
  out: string;
}

export async function certsCommand(args: CertsArgs, out: { log(s: string): void }): Promise<number> {
  const { cluster, file } = loadCluster(args.cluster);
  const report = await writeClusterCerts(cluster, args.out, path.dirname(file));
  for (const f of report.written) out.log(`wrote ${f}`);
  for (const f of report.kept) out.log(`kept  ${f}`);
  const at = (name: string): string => path.join(report.dir, name);
  const pointsHere = cluster.tls !== undefined && cluster.adminToken === at(CERT_FILES.adminToken) && cluster.hosts.every((h) => {
    const t = tlsFilesOf(cluster, h.id)!;
    return t.ca === at(CERT_FILES.caCert) && t.cert === at(CERT_FILES.hostCert(h.id)) && t.key === at(CERT_FILES.hostKey(h.id));
  });
  if (pointsHere) out.log(`${file} already points at these files.`);
  else out.log(`\nAdd to ${file} (replacing any tls, adminToken or insecurePlainTcp lines):\n\n${report.snippet}\n`);
  out.log(`Give each host only its own key: ${CERT_FILES.caKey} signs new certificates and belongs offline.`);
  return EXIT_OK;
}
