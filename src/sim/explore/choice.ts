// The choices an exploration makes, one per step: run a pending event (a
// delivery, a disk completion, a tick, or a timer that is due), lose or
// duplicate a message in flight, crash a host or restart one. A choice has a
// key, stable across re-executions of the same prefix (events are named by
// their scheduler sequence number), which choice files store.
import type { EventKind } from '../scheduler.js';

export type Choice =
  | {
    readonly kind: 'run';
    /** The event's scheduler sequence number (its name) and id (to run it). */
    readonly seq: number;
    readonly id: number;
    /** Its time: it runs then, or now if that is past. */
    readonly atUs: number;
    readonly event: EventKind;
    /** The host or client it runs for (0: the world). */
    readonly owner: number;
  }
  | { readonly kind: 'lose' | 'duplicate'; readonly seq: number; readonly id: number }
  | { readonly kind: 'crash' | 'restart'; readonly host: number };

export type ChoiceKind = Choice['kind'];

export type HostChoice = Extract<Choice, { host: number }>;
export type EventChoice = Exclude<Choice, HostChoice>;

/** A crash or a restart (the others name a pending event). */
export function isHostChoice(c: Choice): c is HostChoice {
  return 'host' in c;
}

/** "run 41", "lose 41", "duplicate 41", "crash 2", "restart 2". */
export function choiceKey(c: Choice): string {
  return isHostChoice(c) ? `${c.kind} ${c.host}` : `${c.kind} ${c.seq}`;
}

const KEY = /^(run|lose|duplicate|crash|restart) (\d+)$/;

/** Whether a string is a well-formed choice key (what it names is only known in a world). */
export function isChoiceKey(key: string): boolean {
  return KEY.test(key);
}
