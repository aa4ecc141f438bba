// A clock a test moves by hand, with the timers set on it (a VmmEnv's now and
// timer): they fire in time order, ties in the order they were set, each at
// its own time.
export class ManualClock {
  now = 0;
  private timers: { at: number; seq: number; fn: () => void }[] = [];
  private seq = 0;

  readonly timer = (at: number, fn: () => void): void => {
    this.timers.push({ at, seq: this.seq++, fn });
  };

  /** Moves the clock to `to`, firing the timers due; `settle` runs before each timer and once at the end. */
  advance(to: number, settle: () => void = () => undefined): void {
    for (;;) {
      settle();
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const t = this.timers[0];
      if (t === undefined || t.at > to) break;
      this.timers.shift();
      this.now = Math.max(this.now, t.at);
      t.fn();
    }
    this.now = to;
  }
}
