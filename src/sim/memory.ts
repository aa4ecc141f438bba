// A simulated host's page memory: frames and a protection per page, behind
// the same interface real mode's native shim implements. Application threads
// access words through it; an access without the right protection faults
// into the VMM, and the thread waits until the page's protection changes.
// Page deadlines are the memory's own scheduler events, so they close pages
// on time whatever the host is doing (paused, stalled): like the native
// shim's thread, they are no part of the host's event loop.
import type { FaultRequest, MemoryBackend, Protection } from '../vmm/memory.js';

/** Told about every protection change, for the single-writer check. */
export interface ProtectionObserver {
  changed(host: number, page: number, prot: Protection): void;
}

/** This host's monotonic clock, as the memory enforces deadlines on it. */
export interface DeadlineClock {
  /** The local clock now (µs). */
  now(): number;
  /**
   * Runs fn when the local clock is expected to read localUs, as a scheduler
   * event of its own: never held back by the host's state. (It may run early
   * if the clock's drift changed meanwhile: the memory then asks again.)
   */
  at(localUs: number, fn: () => void): void;
}

const PROT: Protection[] = ['none', 'read', 'write'];

export class SimMemory implements MemoryBackend {
  private frames: (Uint8Array | undefined)[];
  private views: (DataView | undefined)[];
  private prot: Uint8Array;
  private faultHandler: (req: FaultRequest) => void = () => undefined;
  private waiters = new Map<number, (() => void)[]>();
  /** Page -> the local time it must be closed at. */
  private deadlines = new Map<number, number>();
  private closed = false;

  /**
   * `defer` runs a woken thread's retry later, as a scheduler would: never
   * inside the VMM call that changed the protection.
   */
  constructor(
    readonly host: number,
    readonly pageSize: number,
    readonly pages: number,
    private readonly observer: ProtectionObserver,
    private readonly defer: (fn: () => void) => void,
    private readonly clock: DeadlineClock,
  ) {
    this.frames = new Array<Uint8Array | undefined>(pages).fill(undefined);
    this.views = new Array<DataView | undefined>(pages).fill(undefined);
    this.prot = new Uint8Array(pages);
  }

  protection(page: number): Protection {
    return PROT[this.prot[page]!]!;
  }

  fill(page: number, data: Uint8Array, prot: Protection): void {
    this.frame(page).set(data.subarray(0, this.pageSize));
    this.setProtection(page, prot);
  }

  read(page: number): Uint8Array {
    return this.frame(page).slice();
  }

  setProtection(page: number, prot: Protection): void {
    if (this.closed) return;
    // Past its deadline a page stays closed, whoever asks: the VMM learns of it at the next fault.
    this.change(page, this.pastDeadline(page) ? 0 : PROT.indexOf(prot));
  }

  setDeadline(page: number, localUs: number | null): void {
    if (this.closed) return;
    if (localUs === null) {
      this.deadlines.delete(page);
      return;
    }
    this.deadlines.set(page, localUs);
    if (this.pastDeadline(page)) this.change(page, 0);
    else this.closeAt(page, localUs);
  }

  onFault(handler: (req: FaultRequest) => void): void {
    this.faultHandler = handler;
  }

  /** The process is gone: its memory with it. */
  close(): void {
    for (let page = 0; page < this.pages; page++) {
      if (this.prot[page] !== 0) this.observer.changed(this.host, page, 'none');
    }
    this.prot.fill(0);
    this.waiters.clear();
    this.deadlines.clear();
    this.closed = true;
  }

  // Word access for application threads: null means the access faulted and
  // `retry` runs when the page's protection next changes.

  loadWord(addr: number, retry: () => void): number | null {
    const page = Math.floor(addr / this.pageSize);
    if (this.prot[page]! < 1) return this.faulted(page, 'read', retry);
    return this.view(page).getUint32(addr - page * this.pageSize, true);
  }

  storeWord(addr: number, value: number, retry: () => void): boolean {
    const page = Math.floor(addr / this.pageSize);
    if (this.prot[page]! < 2) return this.faulted(page, 'write', retry) !== null;
    this.view(page).setUint32(addr - page * this.pageSize, value >>> 0, true);
    return true;
  }

  /** Atomic fetch-and-add; null if it faulted. */
  addWord(addr: number, delta: number, retry: () => void): number | null {
    const page = Math.floor(addr / this.pageSize);
    if (this.prot[page]! < 2) return this.faulted(page, 'write', retry);
    const v = this.view(page);
    const off = addr - page * this.pageSize;
    const old = v.getUint32(off, true);
    v.setUint32(off, (old + delta) >>> 0, true);
    return old;
  }

  private closeAt(page: number, localUs: number): void {
    this.clock.at(localUs, () => {
      if (this.closed || this.deadlines.get(page) !== localUs) return; // cleared or moved since
      if (this.clock.now() < localUs) this.closeAt(page, localUs); // the clock slowed down: not yet
      else this.change(page, 0);
    });
  }

  private pastDeadline(page: number): boolean {
    const d = this.deadlines.get(page);
    return d !== undefined && this.clock.now() >= d;
  }

  private change(page: number, p: number): void {
    const prot = PROT[p]!;
    if (this.prot[page] !== p) {
      this.prot[page] = p;
      this.observer.changed(this.host, page, prot);
    }
    const w = this.waiters.get(page);
    if (w !== undefined) {
      this.waiters.delete(page);
      for (const f of w) this.defer(f);
    }
  }

  private faulted(page: number, access: 'read' | 'write', retry: () => void): null {
    let w = this.waiters.get(page);
    if (w === undefined) this.waiters.set(page, (w = []));
    w.push(retry);
    this.faultHandler({ page, access });
    return null;
  }

  private frame(page: number): Uint8Array {
    let f = this.frames[page];
    if (f === undefined) {
      f = new Uint8Array(this.pageSize);
      this.frames[page] = f;
    }
    return f;
  }

  private view(page: number): DataView {
    let v = this.views[page];
    if (v === undefined) {
      const f = this.frame(page);
      v = new DataView(f.buffer, f.byteOffset, f.byteLength);
      this.views[page] = v;
    }
    return v;
  }
}
