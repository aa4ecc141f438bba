// Framing of host-to-host messages over a TCP byte stream (design section 8,
// "Transport"). TCP delivers bytes, not messages: a read can hold half a frame
// or several, so every frame carries its length up front.
//
// On the wire:   [u32 BE payload length][payload]
// Payload:       [u8 magic 0x47 'G'][u8 version][u8 cluster id length][cluster id, UTF-8]
//                [u32 BE sender host id][body: one envelope, src/real/envelope-codec.ts]
//
// The cluster id travels as the string itself, not a hash, so two clusters
// can never be confused by a collision, and a dropped frame's log line can name
// the cluster it came from. The header is read before the body, so frames from
// a stranger are rejected without decoding their body.
//
// Nothing here trusts its input: a peer may be buggy, out of date or hostile,
// so decoding never throws; it reports a reason.

export const FRAME_MAGIC = 0x47;
/** 2: the binary envelope body (1 carried JSON). */
export const FRAME_VERSION = 2;
/** Bytes of the length prefix in front of every payload. */
export const LENGTH_BYTES = 4;
/** Longest cluster id, in UTF-8 bytes: its length travels in one byte. */
export const MAX_CLUSTER_ID_BYTES = 255;
/** Default limit on a payload: big enough for a snapshot of a page table, small enough to bound memory per connection. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

export interface FrameHeader {
  clusterId: string;
  /** Sender host id, an unsigned 32-bit integer. */
  from: number;
}

export type DecodeFailure = 'short' | 'bad-magic' | 'bad-version' | 'bad-cluster-id';

export type DecodedFrame =
  | { ok: true; header: FrameHeader; version: number; body: Buffer }
  | { ok: false; reason: DecodeFailure };

// Fatal decoders: a silently replaced invalid byte sequence (U+FFFD) would let
// two different byte strings compare equal as cluster ids.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Checks a header before it is encoded; throws RangeError, since a bad header is a local programming error. */
export function checkHeader(header: FrameHeader): void {
  if (!Number.isInteger(header.from) || header.from < 0 || header.from > 0xffffffff) {
    throw new RangeError(`frame header: sender id must be an integer in [0, 2^32), got ${header.from}`);
  }
  if (Buffer.byteLength(header.clusterId, 'utf8') > MAX_CLUSTER_ID_BYTES) {
    throw new RangeError(`frame header: cluster id longer than ${MAX_CLUSTER_ID_BYTES} UTF-8 bytes`);
  }
}

/**
 * The bytes in front of every body this sender frames: a length prefix to be
 * filled by sealFrame, then the header. Computed once per sender (the header
 * never changes), so each frame is one buffer: prefix, then body.
 */
export function framePrefix(header: FrameHeader): Buffer {
  checkHeader(header);
  const cluster = Buffer.from(header.clusterId, 'utf8');
  const out = Buffer.alloc(LENGTH_BYTES + 3 + cluster.length + 4);
  let at = out.writeUInt8(FRAME_MAGIC, LENGTH_BYTES);
  at = out.writeUInt8(FRAME_VERSION, at);
  at = out.writeUInt8(cluster.length, at);
  at += cluster.copy(out, at);
  out.writeUInt32BE(header.from, at);
  return out;
}

/** Writes the length prefix of a frame that starts with a framePrefix; returns the frame. */
export function sealFrame(frame: Buffer): Buffer {
  frame.writeUInt32BE(frame.length - LENGTH_BYTES, 0);
  return frame;
}

/** One complete frame, length prefix included, ready to write to a socket. Throws RangeError on a bad header. */
export function encodeFrame(header: FrameHeader, body: Uint8Array): Buffer {
  return sealFrame(Buffer.concat([framePrefix(header), body]));
}

/** Length of the payload inside a frame made by encodeFrame or sealFrame (what the decoder's limit compares against). */
export function payloadLength(frame: Buffer): number {
  return frame.length - LENGTH_BYTES;
}

/** Reads a payload (without its length prefix) into its header and its body (a view, not a copy). Never throws. */
export function decodeFrame(payload: Uint8Array): DecodedFrame {
  const p = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (p.length < 3) return { ok: false, reason: 'short' };
  if (p[0] !== FRAME_MAGIC) return { ok: false, reason: 'bad-magic' };
  // One version today; a later one would add a case here rather than guess at the layout.
  const version = p[1] as number;
  if (version !== FRAME_VERSION) return { ok: false, reason: 'bad-version' };
  const clusterBytes = p[2] as number;
  const bodyAt = 3 + clusterBytes + 4;
  if (p.length < bodyAt) return { ok: false, reason: 'short' };
  let clusterId: string;
  try {
    clusterId = utf8.decode(p.subarray(3, 3 + clusterBytes));
  } catch {
    return { ok: false, reason: 'bad-cluster-id' };
  }
  const from = p.readUInt32BE(3 + clusterBytes);
  return { ok: true, header: { clusterId, from }, version, body: p.subarray(bodyAt) };
}

/**
 * The sender and body of a payload whose header is that of `prefix` (a
 * framePrefix: this cluster, this version) but for the sender, or null for
 * any other payload (decodeFrame then says what it is). One comparison of
 * bytes, no string decoded: what a host does with each frame of its own
 * cluster. Equal bytes are an equal cluster id (a string has one UTF-8 form),
 * so this accepts exactly what decodeFrame and a comparison of ids would.
 */
export function matchFrame(payload: Buffer, prefix: Buffer): { from: number; body: Buffer } | null {
  const headerEnd = prefix.length - LENGTH_BYTES - 4; // the payload's offset of the sender id
  if (payload.length < headerEnd + 4 || prefix.compare(payload, 0, headerEnd, LENGTH_BYTES, LENGTH_BYTES + headerEnd) !== 0) return null;
  return { from: payload.readUInt32BE(headerEnd), body: payload.subarray(headerEnd + 4) };
}

export interface PushResult {
  /** Complete payloads, in order, without their length prefixes. */
  frames: Buffer[];
  /** Set once a frame announced more than the limit: the stream cannot be resynchronized. */
  error: 'oversized' | null;
}

/**
 * Cuts a byte stream into payloads. Accepts chunks of any size and split
 * anywhere. A payload lying whole inside one chunk is returned as a view of it
 * (no copy); one spanning chunks is copied, once, into a buffer that grows with
 * the bytes that actually arrived. Chunks are never kept by reference, because
 * a tiny read can pin a much larger backing store: a peer dripping one byte at a
 * time must not make us hold more than it sent.
 *
 * A length above the limit marks the decoder failed for good: after it, byte
 * boundaries are unknown, so the only safe answer is to drop the connection.
 * The limit is checked on the announced length, before buffering the body, so
 * a peer cannot make us hold more than one limit's worth per connection.
 */
export class FrameDecoder {
  private readonly head = Buffer.alloc(LENGTH_BYTES);
  private headLen = 0;
  /** Payload length announced by the prefix just read; -1 while reading a prefix. */
  private need = -1;
  private acc: Buffer | null = null;
  private accLen = 0;
  private failure: 'oversized' | null = null;

  constructor(readonly maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {
    if (!Number.isSafeInteger(maxFrameBytes) || maxFrameBytes < 0 || maxFrameBytes > 0xffffffff) {
      throw new RangeError(`maxFrameBytes must be an integer in [0, 2^32), got ${maxFrameBytes}`);
    }
  }

  get failed(): 'oversized' | null {
    return this.failure;
  }

  /** Bytes held for a frame not yet complete. */
  get pending(): number {
    return this.headLen + this.accLen;
  }

  push(chunk: Uint8Array): PushResult {
    const frames: Buffer[] = [];
    if (this.failure !== null) return { frames, error: this.failure };
    const c = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let off = 0;
    for (;;) {
      if (this.need < 0) {
        if (off >= c.length) break;
        const k = Math.min(LENGTH_BYTES - this.headLen, c.length - off);
        c.copy(this.head, this.headLen, off, off + k);
        this.headLen += k;
        off += k;
        if (this.headLen < LENGTH_BYTES) break;
        this.headLen = 0;
        const len = this.head.readUInt32BE(0);
        if (len > this.maxFrameBytes) {
          this.failure = 'oversized';
          this.acc = null;
          this.accLen = 0;
          return { frames, error: this.failure };
        }
        this.need = len;
      }
      if (this.accLen === 0 && c.length - off >= this.need) {
        frames.push(c.subarray(off, off + this.need));
        off += this.need;
        this.need = -1;
        continue;
      }
      const k = Math.min(this.need - this.accLen, c.length - off);
      if (k === 0) break;
      this.reserve(this.accLen + k);
      c.copy(this.acc as Buffer, this.accLen, off, off + k);
      this.accLen += k;
      off += k;
      if (this.accLen < this.need) break;
      frames.push((this.acc as Buffer).subarray(0, this.need));
      this.acc = null;
      this.accLen = 0;
      this.need = -1;
    }
    return { frames, error: null };
  }

  /** Grows the body buffer geometrically (amortized one copy per byte), never past the announced length. */
  private reserve(bytes: number): void {
    const cap = this.acc?.length ?? 0;
    if (cap >= bytes) return;
    const next = Buffer.allocUnsafe(Math.min(this.need, Math.max(bytes, cap * 2, 4096)));
    if (this.acc !== null) this.acc.copy(next, 0, 0, this.accLen);
    this.acc = next;
  }
}
