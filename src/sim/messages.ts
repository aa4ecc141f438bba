// What travels between simulated hosts and clients: plain, serializable data,
// never shared objects, so the same messages can cross a real network.
import type { Message } from '../raft/index.js';
import type { VmmMessage } from '../vmm/protocol.js';
import type { KvOp } from './kv.js';

export type Envelope =
  | { kind: 'raft'; group: number; msg: Message }
  | { kind: 'kv-request'; group: number; client: number; seq: number; op: KvOp }
  | { kind: 'kv-response'; client: number; seq: number; status: 'ok'; index: number; term: number; value: string }
  | { kind: 'kv-response'; client: number; seq: number; status: 'not-leader'; leader: number }
  | { kind: 'vmm'; msg: VmmMessage };
