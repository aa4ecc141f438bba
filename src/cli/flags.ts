// Flag value checks, used as yargs `coerce` functions. yargs' own number
// parsing turns "abc" into NaN and accepts "1e3" or "0x10"; these accept only
// plain decimal text and throw a message naming the flag, which the fail
// handler in main.ts prints before exiting 2.

function single(flag: string, raw: unknown): string {
  if (Array.isArray(raw)) throw new Error(`--${flag}: expected one value, got ${raw.length} (the flag was given more than once)`);
  if (typeof raw === 'boolean' || raw === undefined) throw new Error(`--${flag}: expected a value`);
  return String(raw).trim();
}

/** An integer in [min, max], written in plain decimal. */
export function intFlag(flag: string, min: number, max: number = Number.MAX_SAFE_INTEGER): (raw: unknown) => number {
  return (raw) => {
    const text = single(flag, raw);
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    if (!/^-?\d+$/.test(text)) throw new Error(`--${flag}: expected an integer ${range}, got "${text}"`);
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new Error(`--${flag}: expected an integer ${range}, got ${text}`);
    return n;
  };
}

/** A positive finite number (e.g. seconds), written in plain decimal. */
export function positiveNumberFlag(flag: string): (raw: unknown) => number {
  return (raw) => {
    const text = single(flag, raw);
    if (!/^\d+(\.\d+)?$|^\.\d+$/.test(text) || !(Number(text) > 0)) {
      throw new Error(`--${flag}: expected a number of seconds > 0, got "${text}"`);
    }
    return Number(text);
  };
}

/** A non-empty string (file names, scenario names). */
export function stringFlag(flag: string): (raw: unknown) => string {
  return (raw) => {
    const text = single(flag, raw);
    if (text === '') throw new Error(`--${flag}: expected a non-empty value`);
    return text;
  };
}

/** A probability in (0, 1], written in plain decimal. */
export function probabilityFlag(flag: string): (raw: unknown) => number {
  return (raw) => {
    const text = single(flag, raw);
    const p = Number(text);
    if (!/^\d+(\.\d+)?$|^\.\d+$/.test(text) || !(p > 0 && p <= 1)) throw new Error(`--${flag}: expected a probability > 0 and <= 1, got "${text}"`);
    return p;
  };
}
