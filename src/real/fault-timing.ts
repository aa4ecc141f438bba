// Times page faults as the host serves them: from the moment a fault request
// is read off the shim's pipe to the moment the page is opened enough for it.
// A thin MemoryBackend around the native one, so the VMM stays unaware.
import { performance } from 'node:perf_hooks';
import type { FaultRequest, MemoryBackend, Protection } from '../vmm/memory.js';
import { noTimeline } from './timeline.js';
import type { Timeline } from './timeline.js';

export type FaultKind = 'read' | 'write';

const satisfies = (prot: Protection, kind: FaultKind): boolean => prot === 'write' || (prot === 'read' && kind === 'read');

export class TimedMemory implements MemoryBackend {
  readonly pageSize: number;
  readonly pages: number;
  readonly counts = { read: 0, write: 0 };
  /** Page -> when its oldest unanswered fault arrived (ms) and its kind. */
  private pending = new Map<number, { at: number; kind: FaultKind }>();

  constructor(
    private readonly inner: MemoryBackend,
    private readonly served: (kind: FaultKind, seconds: number) => void,
    private readonly timeline: Pick<Timeline, 'time'> = noTimeline,
  ) {
    this.pageSize = inner.pageSize;
    this.pages = inner.pages;
  }

  protection(page: number): Protection {
    return this.inner.protection(page);
  }

  fill(page: number, data: Uint8Array, prot: Protection): void {
    this.timeline.time('open-page', () => this.inner.fill(page, data, prot));
    this.opened(page);
  }

  read(page: number): Uint8Array {
    return this.inner.read(page);
  }

  setProtection(page: number, prot: Protection): void {
    this.timeline.time('open-page', () => this.inner.setProtection(page, prot));
    this.opened(page);
  }

  setDeadline(page: number, localUs: number | null): void {
    this.inner.setDeadline(page, localUs);
  }

  onFault(handler: (req: FaultRequest) => void): void {
    this.inner.onFault((req) => {
      const p = this.pending.get(req.page);
      // A write fault on a page with a read fault outstanding: the stronger need is what gets timed.
      if (p === undefined || (p.kind === 'read' && req.access === 'write')) {
        this.pending.set(req.page, { at: p?.at ?? performance.now(), kind: req.access });
      }
      this.timeline.time('fault', () => handler(req));
    });
  }

  close(): void {
    this.pending.clear();
    this.inner.close();
  }

  private opened(page: number): void {
    const p = this.pending.get(page);
    // What the page has, not what was asked: past its deadline it stays closed.
    if (p === undefined || !satisfies(this.inner.protection(page), p.kind)) return;
    this.pending.delete(page);
    this.counts[p.kind]++;
    this.served(p.kind, (performance.now() - p.at) / 1000);
  }
}
