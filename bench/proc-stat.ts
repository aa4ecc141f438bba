// CPU time of a live process from /proc/PID/stat (Linux): user plus system,
// every thread, counted in USER_HZ ticks (100 per second on every Linux
// architecture Node runs on).
import { readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100;

/** CPU seconds `pid` used so far; null where /proc cannot tell (gone, or not Linux). */
export function processCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: fields are counted after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime: fields 14 and 15
    return Number.isFinite(ticks) ? ticks / TICKS_PER_SECOND : null;
  } catch {
    return null;
  }
}
