// The key-value requests and responses of the simulator's Raft scenarios,
// where clients drive a replicated key-value store to exercise Raft alone.
// Real hosts never send these, so they are not part of src/vmm/wire.ts.
import type { Envelope } from '../vmm/wire.js';

/** A request of the replicated key-value store. */
export type KvOp =
  | { op: 'put'; key: string; value: string }
  | { op: 'append'; key: string; value: string }
  | { op: 'get'; key: string };

export type KvEnvelope =
  | { kind: 'kv-request'; group: number; client: number; seq: number; op: KvOp }
  | { kind: 'kv-response'; client: number; seq: number; status: 'ok'; index: number; term: number; value: string }
  | { kind: 'kv-response'; client: number; seq: number; status: 'not-leader'; leader: number };

/** What crosses the simulated network: what real hosts send, and the key-value traffic. */
export type SimEnvelope = Envelope | KvEnvelope;
