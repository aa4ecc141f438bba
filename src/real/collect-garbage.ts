// A full garbage collection on demand, for the one case where waiting for V8
// to decide is wrong: a peer abandoned megabytes of partial frames (an attack,
// or a peer cut off mid-snapshot). Those buffers are garbage at once, but an
// otherwise idle host allocates too little for V8 to collect its old space
// for a long time, so the memory would stay held after the attack ended.
// `gc` is V8's own (what --expose-gc exposes), obtained at run time so that
// `gallocy serve` needs no node flag.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | null | undefined;

function obtain(): (() => void) | null {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return exposed;
  try {
    setFlagsFromString('--expose-gc');
    const fn: unknown = runInNewContext('gc');
    return typeof fn === 'function' ? (fn as () => void) : null;
  } catch {
    return null;
  }
}

/** Runs a full collection; false if this runtime offers none. */
export function collectGarbage(): boolean {
  gc ??= obtain();
  if (gc === null) return false;
  gc();
  return true;
}
