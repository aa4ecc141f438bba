// The page memory a host's VMM drives: page frames with a protection each.
// The simulator's SimMemory and real mode's NativeMemory both implement it,
// so the coherence code cannot tell which world it runs in.

export type Protection = 'none' | 'read' | 'write';

export interface FaultRequest {
  page: number;
  access: 'read' | 'write';
}

export interface MemoryBackend {
  readonly pageSize: number;
  readonly pages: number;
  protection(page: number): Protection;
  /** Copy data into the page (never through the protected mapping), then open it with prot and wake waiters. */
  fill(page: number, data: Uint8Array, prot: Protection): void;
  /** Current contents (a copy; never faults). */
  read(page: number): Uint8Array;
  /** Invalidate ('none'), downgrade ('read') or upgrade without copying ('write'); wakes waiters. */
  setProtection(page: number, prot: Protection): void;
  /**
   * The page may be open until `localUs` on this host's monotonic clock (the
   * clock VmmEnv.now() reads), and not after: once the clock reads localUs
   * the backend closes the page ('none', no copy, waiters woken) by itself,
   * even while no JavaScript runs on the host (a stalled event loop cannot
   * keep a lease alive). From then on fill and setProtection leave the page
   * closed until a later deadline is set. A deadline already passed closes
   * the page at once. null: no deadline.
   */
  setDeadline(page: number, localUs: number | null): void;
  /** Receives each access that faulted for lack of protection. */
  onFault(handler: (req: FaultRequest) => void): void;
  /** Open every page, wake every waiter, stop delivering faults. */
  close(): void;
}
