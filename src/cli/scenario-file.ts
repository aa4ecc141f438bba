// Reads a scenario file: by name from the repo's scenarios/ folder, or by path.
// All the I/O and YAML parsing lives here so src/sim only ever sees a parsed
// value (src/sim/scenario.ts validates it). Every failure is an InputError
// whose message names the file, the field and what was expected.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { validateSpec, type ScenarioSpec } from '../sim/swarm.js';
import { InputError } from '../input/errors.js';
import { parseYamlInput, readInputFile } from '../input/yaml-file.js';
import { findRepoRoot } from './repo-root.js';

/** The scenario `fuzz` and `replay` run when --scenario is omitted. */
export const DEFAULT_SCENARIO = 'dsm-chaos';

export interface LoadedScenario {
  /** The scenario, or the ranges its fields are drawn from per seed. */
  spec: ScenarioSpec;
  /** Absolute path of the file read. */
  file: string;
  /** What to pass to --scenario to load it again: the name if found by name, else the path as given. */
  ref: string;
}

export function scenariosDir(): string {
  return path.join(findRepoRoot(), 'scenarios');
}

/** Names of the shipped scenarios (scenarios/NAME.yaml), sorted. */
export function listScenarioNames(dir: string = scenariosDir()): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -'.yaml'.length)).sort();
}

/** A bare word is a name; anything with a path separator or a YAML extension is a path. */
function looksLikePath(s: string): boolean {
  return s.includes('/') || s.includes(path.sep) || /\.ya?ml$/i.test(s);
}

export function loadScenario(nameOrPath: string): LoadedScenario {
  if (nameOrPath.trim() === '') throw new InputError('--scenario: expected a scenario name or a path to a .yaml file, got an empty string');
  if (looksLikePath(nameOrPath)) {
    const file = path.resolve(nameOrPath);
    return { spec: parseScenarioText(readInputFile(file, 'scenario file'), file), file, ref: nameOrPath };
  }
  const names = listScenarioNames();
  if (!names.includes(nameOrPath)) {
    throw new InputError(
      `unknown scenario "${nameOrPath}": expected one of ${names.join(', ') || '(none found)'}, or a path to a .yaml file`,
    );
  }
  const file = path.join(scenariosDir(), `${nameOrPath}.yaml`);
  return { spec: parseScenarioText(readInputFile(file, 'scenario file'), file), file, ref: nameOrPath };
}

/** Parses and validates YAML text; `file` is only used in messages. */
export function parseScenarioText(text: string, file: string): ScenarioSpec {
  return parseYamlInput(text, file, (value) => {
    const checked = validateSpec(value);
    return checked.ok ? { ok: true, value: checked.spec } : checked;
  });
}
