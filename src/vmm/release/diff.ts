// Twins and diffs of lazy release consistency (TreadMarks): a host that writes
// a page keeps a copy of it as it was (the twin); at a release, the words that
// differ between the twin and the page are the diff, which the page's company
// applies to its copy. Word granularity (u32, the application's unit): two
// hosts that write different words of one page (false sharing) never
// overwrite each other's words.

/** A run of consecutive changed words: the first word's index in the page, and the words' new values. */
export interface DiffRun {
  word: number;
  values: number[];
}

/** The changed words of one page, runs in ascending, non-overlapping, non-adjacent order. */
export type Diff = readonly DiffRun[];

function words(page: Uint8Array): Uint32Array {
  if (page.byteLength % 4 !== 0) throw new RangeError(`a page of ${page.byteLength} bytes is not whole words`);
  if (page.byteOffset % 4 === 0) return new Uint32Array(page.buffer, page.byteOffset, page.byteLength / 4);
  return new Uint32Array(page.slice().buffer);
}

/** The words of `page` that differ from `twin` (same size). */
export function makeDiff(twin: Uint8Array, page: Uint8Array): Diff {
  if (twin.byteLength !== page.byteLength) throw new RangeError(`twin of ${twin.byteLength} bytes, page of ${page.byteLength}`);
  const a = words(twin);
  const b = words(page);
  const runs: DiffRun[] = [];
  let run: DiffRun | null = null;
  for (let i = 0; i < b.length; i++) {
    if (a[i] === b[i]) {
      run = null;
      continue;
    }
    if (run === null) runs.push((run = { word: i, values: [] }));
    run.values.push(b[i]!);
  }
  return runs;
}

/** Writes the diff's words into `page` (in place). */
export function applyDiff(page: Uint8Array, diff: Diff): void {
  const w = new DataView(page.buffer, page.byteOffset, page.byteLength);
  for (const r of diff) for (let k = 0; k < r.values.length; k++) w.setUint32((r.word + k) * 4, r.values[k]!, true);
}

/** How many words the diff changes. */
export function diffWords(diff: Diff): number {
  let n = 0;
  for (const r of diff) n += r.values.length;
  return n;
}

/** Whether the diff writes word `word`. */
export function diffTouches(diff: Diff, word: number): boolean {
  return diff.some((r) => word >= r.word && word < r.word + r.values.length);
}

/**
 * The wire form: base64 of little-endian u32s, each run as [first word, count, values...].
 * Compact for the few words a false-sharing interval changes, and one string for a Raft command.
 */
export function encodeDiff(diff: Diff): string {
  const out = new Uint32Array(diff.length * 2 + diffWords(diff));
  let i = 0;
  for (const r of diff) {
    out[i++] = r.word;
    out[i++] = r.values.length;
    for (const v of r.values) out[i++] = v;
  }
  return Buffer.from(out.buffer).toString('base64');
}

/** Parses and checks a diff of a page of `pageSize` bytes: the message says what is wrong. */
export function decodeDiff(text: unknown, pageSize: number): Diff | { error: string } {
  if (typeof text !== 'string') return { error: `a diff must be a base64 string, got ${typeof text}` };
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) return { error: 'a diff must be canonical base64' };
  if (bytes.length % 4 !== 0) return { error: `a diff of ${bytes.length} bytes is not whole words` };
  const u = new Uint32Array(bytes.length / 4);
  for (let k = 0; k < u.length; k++) u[k] = bytes.readUInt32LE(k * 4);
  const pageWords = Math.floor(pageSize / 4);
  const runs: DiffRun[] = [];
  let i = 0;
  let end = -1;
  while (i < u.length) {
    if (i + 2 > u.length) return { error: `run at word ${i} of the diff has no count` };
    const word = u[i]!;
    const count = u[i + 1]!;
    if (count === 0) return { error: `run at word ${i} of the diff is empty` };
    if (word <= end) return { error: `runs of the diff must ascend without touching (word ${word} after ${end})` };
    if (word + count > pageWords) return { error: `run of words ${word}..${word + count - 1} is past the page's ${pageWords} words` };
    if (i + 2 + count > u.length) return { error: `run at word ${i} of the diff is cut short` };
    runs.push({ word, values: Array.from(u.subarray(i + 2, i + 2 + count)) });
    end = word + count;
    i += 2 + count;
  }
  return runs;
}
