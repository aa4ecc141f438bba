// What travels between hosts (and the key-value clients of the Raft
// scenarios): plain, serializable data, never shared objects, so the same
// messages cross the simulated network and a real one (src/real/transport.ts
// validates every decoded envelope against these types).
import type { Message } from '../raft/index.js';
import type { VmmMessage } from './protocol.js';

/** A request of the replicated key-value store that exercises Raft alone. */
export type KvOp =
  | { op: 'put'; key: string; value: string }
  | { op: 'append'; key: string; value: string }
  | { op: 'get'; key: string };

export type Envelope =
  | { kind: 'raft'; group: number; msg: Message }
  | { kind: 'kv-request'; group: number; client: number; seq: number; op: KvOp }
  | { kind: 'kv-response'; client: number; seq: number; status: 'ok'; index: number; term: number; value: string }
  | { kind: 'kv-response'; client: number; seq: number; status: 'not-leader'; leader: number }
  | { kind: 'vmm'; msg: VmmMessage };
