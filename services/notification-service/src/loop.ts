import type { Logger } from '@chartwright/kit';

export interface DueLoopOptions<T> {
  name: string;
  /** Items worked on at once by this process; the rest wait in PostgreSQL. */
  concurrency: number;
  /** At most this many at once per key (an endpoint), so one slow key cannot take every slot. */
  perKey: number;
  intervalMs: number;
  keyOf: (item: T) => string;
  /** Takes up to `max` due items for this process, skipping `busyKeys`. */
  claim: (max: number, busyKeys: string[]) => Promise<T[]>;
  /** Gives back items claimed beyond a key's free slots. */
  release: (items: T[]) => Promise<void>;
  run: (item: T) => Promise<void>;
  logger: Logger;
}

/**
 * Works through due rows of a table: claims what fits in the free slots, runs each, and looks
 * again when one finishes, when kicked (new work) or every `intervalMs`. Nothing waits in
 * memory: what is not claimed stays in the database, for this process or another replica.
 */
export class DueLoop<T> {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly perKey = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private soonTimer?: NodeJS.Timeout;
  private pumping?: Promise<void>;
  private again = false;
  private stopped = true;

  constructor(private readonly o: DueLoopOptions<T>) {}

  start(): void {
    this.stopped = false;
    this.kick();
  }

  /**
   * Look for due work in a moment: kicks that come close together (events arriving, attempts
   * finishing) share one claim instead of one query each.
   */
  soon(): void {
    if (this.stopped || this.soonTimer) return;
    this.soonTimer = setTimeout(() => {
      this.soonTimer = undefined;
      this.kick();
    }, 2);
  }

  /** Look for due work now. */
  kick(): void {
    if (this.stopped) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.pumping = this.pump()
      .catch((err) => this.o.logger.warn({ err, loop: this.o.name }, 'claiming due work failed; will retry'))
      .finally(() => {
        this.pumping = undefined;
        if (this.stopped) return;
        if (this.again) {
          this.again = false;
          this.kick();
        } else {
          this.timer = setTimeout(() => this.kick(), this.o.intervalMs);
          this.timer.unref();
        }
      });
  }

  private async pump(): Promise<void> {
    for (;;) {
      const free = this.o.concurrency - this.inFlight.size;
      if (free <= 0 || this.stopped) return;
      // Nearly full: wait for a few more slots, so each claim takes a batch.
      if (this.inFlight.size > 0 && free < Math.min(8, Math.ceil(this.o.concurrency / 4))) return;
      const busy = [...this.perKey].filter(([, n]) => n >= this.o.perKey).map(([k]) => k);
      const items = await this.o.claim(free, busy);
      const extra: T[] = [];
      for (const item of items) {
        const key = this.o.keyOf(item);
        const n = this.perKey.get(key) ?? 0;
        if (n >= this.o.perKey) {
          extra.push(item);
          continue;
        }
        this.launch(item, key);
      }
      if (extra.length) await this.o.release(extra);
      // A full batch may mean more is due; otherwise wait for a kick or the timer.
      if (items.length < free || extra.length) return;
    }
  }

  /**
   * Work claimed elsewhere (just written, already held for this process): runs what fits in the
   * free slots now and answers the rest, for the caller to give back.
   */
  offer(items: T[]): T[] {
    const rest: T[] = [];
    for (const item of items) {
      const key = this.o.keyOf(item);
      if (
        this.stopped ||
        this.inFlight.size >= this.o.concurrency ||
        (this.perKey.get(key) ?? 0) >= this.o.perKey
      )
        rest.push(item);
      else this.launch(item, key);
    }
    return rest;
  }

  private launch(item: T, key: string): void {
    this.perKey.set(key, (this.perKey.get(key) ?? 0) + 1);
    const p: Promise<void> = this.o
      .run(item)
      .catch((err) => this.o.logger.error({ err, loop: this.o.name }, 'work item failed'))
      .finally(() => {
        this.inFlight.delete(p);
        const left = (this.perKey.get(key) ?? 1) - 1;
        if (left > 0) this.perKey.set(key, left);
        else this.perKey.delete(key);
        this.soon();
      });
    this.inFlight.add(p);
  }

  /** Stops claiming and waits for the work in hand. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.soonTimer) clearTimeout(this.soonTimer);
    await this.pumping;
    await Promise.allSettled([...this.inFlight]);
  }
}
