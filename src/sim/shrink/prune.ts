// A scenario as a person would write it: every field left out that the schema
// would fill in with the same value, so a shrunk scenario file shows only what
// the failure needs.
import { isDeepStrictEqual } from 'node:util';
import { scenarioSchema, type Scenario } from '../scenario.js';

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The scenario with each field that parses back to the same scenario without it removed, depth first. */
export function withoutDefaults(scenario: Scenario): Json {
  const raw = structuredClone(scenario) as Json;
  const same = (): boolean => {
    const parsed = scenarioSchema.safeParse(raw);
    return parsed.success && isDeepStrictEqual(parsed.data, scenario);
  };
  const prune = (obj: Json): void => {
    for (const key of Object.keys(obj)) {
      if (key === 'name') continue;
      const value = obj[key];
      delete obj[key];
      if (same()) continue;
      obj[key] = value;
      if (isObject(value)) prune(value);
    }
  };
  prune(raw);
  // Fault entries keep only what differs from a fault's own defaults.
  const faults = raw.faults;
  if (isObject(faults) && Array.isArray(faults.schedule)) {
    for (const f of faults.schedule as Json[]) {
      for (const key of ['count', 'everyMs', 'forMs'] as const) {
        const v = f[key];
        delete f[key];
        if (!same()) f[key] = v;
      }
    }
  }
  return inOrderOf(raw, scenario) as Json;
}

/** `value` with its keys in the order `model` has them (removing and restoring a key moved it to the end). */
function inOrderOf(value: unknown, model: unknown): unknown {
  if (Array.isArray(value)) return value.map((v, i) => inOrderOf(v, Array.isArray(model) ? model[i] : undefined));
  if (!isObject(value)) return value;
  const keys = isObject(model) ? Object.keys(model).filter((k) => k in value) : Object.keys(value);
  return Object.fromEntries(keys.map((k) => [k, inOrderOf(value[k], isObject(model) ? model[k] : undefined)]));
}
