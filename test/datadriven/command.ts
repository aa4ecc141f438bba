// A parsed command as a handler sees it: typed access to its arguments, each
// failure naming the argument and what was expected. The runner checks after
// the handler ran that every argument was read, so a misspelt one
// (`prevot=true`) fails the script instead of being silently ignored.
import type { Arg } from './parse.js';

/** A mistake in a script (bad argument, unknown command): the runner prefixes file and line. */
export class ScriptError extends Error {}

export class Command {
  private readonly used = new Set<number>();

  constructor(readonly cmd: string, readonly args: readonly Arg[], readonly input: string) {}

  /** The bare words (arguments without '='), in order. */
  positional(): string[] {
    const out: string[] = [];
    this.args.forEach((a, i) => {
      if (a.vals.length === 0) {
        this.used.add(i);
        out.push(a.key);
      }
    });
    return out;
  }

  /** Bare words that are positive integers (node or host ids). */
  ids(): number[] {
    return this.positional().map((w) => toInt(w, `argument ${JSON.stringify(w)}`, 1));
  }

  private find(key: string): Arg | undefined {
    const i = this.args.findIndex((a) => a.key === key && a.vals.length > 0);
    if (i < 0) return undefined;
    this.used.add(i);
    return this.args[i];
  }

  has(key: string): boolean {
    return this.args.some((a) => a.key === key && a.vals.length > 0);
  }

  str(key: string): string | undefined;
  str(key: string, dflt: string): string;
  str(key: string, dflt?: string): string | undefined {
    const a = this.find(key);
    if (a === undefined) return dflt;
    if (a.vals.length !== 1) throw new ScriptError(`argument '${key}' takes one value, got (${a.vals.join(',')})`);
    return a.vals[0]!;
  }

  int(key: string): number | undefined;
  int(key: string, dflt: number): number;
  int(key: string, dflt?: number): number | undefined {
    const s = this.str(key);
    return s === undefined ? dflt : toInt(s, `argument '${key}'`, 0);
  }

  mustInt(key: string): number {
    const v = this.int(key);
    if (v === undefined) throw new ScriptError(`${this.cmd} needs ${key}=<integer>`);
    return v;
  }

  bool(key: string, dflt: boolean): boolean {
    const s = this.str(key);
    if (s === undefined) return dflt;
    if (s === 'true') return true;
    if (s === 'false') return false;
    throw new ScriptError(`argument '${key}' must be true or false, got ${JSON.stringify(s)}`);
  }

  /** The values of key=(v1,v2,...) (a single key=v is a list of one). */
  list(key: string): string[] | undefined {
    return this.find(key)?.vals;
  }

  ints(key: string): number[] | undefined {
    return this.list(key)?.map((v) => toInt(v, `argument '${key}'`, 0));
  }

  /** A value from a fixed set. */
  oneOf<T extends string>(key: string, choices: readonly T[]): T | undefined {
    const s = this.str(key);
    if (s === undefined) return undefined;
    if (!(choices as readonly string[]).includes(s)) {
      throw new ScriptError(`argument '${key}' must be one of ${choices.join(', ')}, got ${JSON.stringify(s)}`);
    }
    return s as T;
  }

  /** Arguments no accessor read: misspelt or not meant for this command. */
  unused(): Arg[] {
    return this.args.filter((_, i) => !this.used.has(i));
  }
}

export function toInt(s: string, what: string, min: number): number {
  const n = /^-?\d+$/.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(n) || n < min) {
    throw new ScriptError(`${what} must be ${min === 1 ? 'a positive' : 'a non-negative'} integer, got ${JSON.stringify(s)}`);
  }
  return n;
}
