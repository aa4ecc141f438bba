// A small replicated key-value state machine: the application that exercises
// Raft until the page table arrives. Commands are deduplicated per client, so a
// client may retry a request at another host without applying it twice.

import type { KvOp } from './kv-wire.js';

export type { KvOp };

export interface KvCommand { client: number; seq: number; cmd: KvOp }

export interface KvResult { client: number; seq: number; value: string }

export function encodeCommand(c: KvCommand): string {
  return JSON.stringify(c);
}

/** Decodes a log entry's data; empty data (a leader's no-op) gives null. */
export function decodeCommand(data: string): KvCommand | null {
  if (data === '') return null;
  return JSON.parse(data) as KvCommand;
}

/**
 * Decoded commands by entry: in the simulator every replica applies the very
 * same (immutable) entry object, so each is parsed once, not once per replica.
 */
const decoded = new WeakMap<object, KvCommand | null>();

export function commandOf(entry: { data: string }): KvCommand | null {
  let c = decoded.get(entry);
  if (c === undefined) {
    c = decodeCommand(entry.data);
    decoded.set(entry, c);
  }
  return c;
}

export class KvStore {
  private data = new Map<string, string>();
  /** client -> [last applied seq, its result], for exactly-once retries. */
  private sessions = new Map<number, [number, string]>();

  apply(c: KvCommand): KvResult {
    const session = this.sessions.get(c.client);
    if (session !== undefined && session[0] >= c.seq) {
      // A retry of a request already applied: answer it again, change nothing.
      return { client: c.client, seq: c.seq, value: session[0] === c.seq ? session[1] : '' };
    }
    const value = this.execute(c.cmd);
    this.sessions.set(c.client, [c.seq, value]);
    return { client: c.client, seq: c.seq, value };
  }

  private execute(op: KvOp): string {
    const old = this.data.get(op.key) ?? '';
    if (op.op === 'put') this.data.set(op.key, op.value);
    else if (op.op === 'append') this.data.set(op.key, old + op.value);
    return old;
  }

  get(key: string): string {
    return this.data.get(key) ?? '';
  }

  /** Sorted, so members with equal contents serialize identically. */
  serialize(): string {
    const data = [...this.data.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const sessions = [...this.sessions.entries()].sort((a, b) => a[0] - b[0]);
    return JSON.stringify({ data, sessions });
  }

  static deserialize(text: string): KvStore {
    const kv = new KvStore();
    if (text === '') return kv;
    const parsed = JSON.parse(text) as { data: [string, string][]; sessions: [number, [number, string]][] };
    kv.data = new Map(parsed.data);
    kv.sessions = new Map(parsed.sessions);
    return kv;
  }
}
