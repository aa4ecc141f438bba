// What travels between hosts: plain, serializable data, never shared objects,
// so the same messages cross the simulated network and a real one
// (src/real/envelope-codec.ts validates every decoded envelope against these
// types).
import type { Message } from '../raft/index.js';
import type { VmmMessage } from './protocol.js';

export type Envelope =
  | { kind: 'raft'; group: number; msg: Message }
  | { kind: 'vmm'; msg: VmmMessage };
