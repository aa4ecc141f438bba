// Reads a cluster file (YAML) for `gallocy serve`. The I/O and YAML parsing
// live here so cluster.ts only sees a parsed value. Every failure is an
// InputError (exit 2) whose message names the file, the field and what was
// expected, in the same form as scenario files: `FILE: field PATH: expected ...`.
import path from 'node:path';
import { parseYamlInput, readInputFile } from '../input/yaml-file.js';
import { resolveCluster, validateCluster, type Cluster } from './cluster.js';

export interface LoadedCluster {
  cluster: Cluster;
  /** Absolute path of the file read. */
  file: string;
}

export function loadCluster(file: string): LoadedCluster {
  const abs = path.resolve(file);
  return { cluster: parseClusterText(readInputFile(abs, 'cluster file'), abs), file: abs };
}

/** Parses and validates YAML text; `file` names it in messages and its folder anchors relative paths. */
export function parseClusterText(text: string, file: string): Cluster {
  const input = parseYamlInput(text, file, (value) => {
    const checked = validateCluster(value);
    return checked.ok ? { ok: true, value: checked.cluster } : checked;
  });
  return resolveCluster(input, path.dirname(path.resolve(file)));
}
