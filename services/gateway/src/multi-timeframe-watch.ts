import { MultiTimeframeGet, type MultiTimeframeRun } from '@chartwright/contracts';
import { callRpc, type MessageBus } from '@chartwright/kit';

/** Runs settled recently, for a waiter that comes just after the event. */
const RECENT_MS = 120_000;
const RECENT_MAX = 10_000;

/**
 * Multi-timeframe runs as this gateway replica learns they are settled, from the
 * `analysis.multi_timeframe_completed` events every replica watches (`consumers.ts`). A waiting
 * request is woken by the event (or by a possible gap in the events) and reads the run once.
 */
export class MultiTimeframeWatch {
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #recent = new Map<string, number>();

  constructor(private readonly bus: MessageBus) {}

  completed(runId: string): void {
    const now = Date.now();
    this.#recent.set(runId, now);
    for (const [id, at] of this.#recent) {
      if (this.#recent.size <= RECENT_MAX && now - at < RECENT_MS) break;
      this.#recent.delete(id);
    }
    for (const wake of this.#waiters.get(runId) ?? []) wake();
  }

  /** Events may have been missed: every waiter reads its run again. */
  catchUp(): void {
    for (const set of this.#waiters.values()) for (const wake of set) wake();
  }

  /**
   * The run once it is settled, or as it stands when `ms` pass (or `signal` aborts: a drain).
   * NOT_FOUND for another user's run.
   */
  async outcome(userId: string, runId: string, ms: number, signal?: AbortSignal): Promise<MultiTimeframeRun> {
    const deadline = Date.now() + ms;
    const read = () => callRpc(this.bus, MultiTimeframeGet, { userId, runId });
    for (;;) {
      const woken = this.#wake(runId, deadline - Date.now(), signal);
      const run = await read().catch((err) => {
        woken.cancel();
        throw err;
      });
      if (run.status !== 'running' || Date.now() >= deadline || signal?.aborted) {
        woken.cancel();
        return run;
      }
      await woken.promise;
      if (Date.now() >= deadline || signal?.aborted) return read();
    }
  }

  /** Resolves on the run's event, a gap, the deadline or the abort; listening starts at once. */
  #wake(runId: string, ms: number, signal?: AbortSignal) {
    let cancel = () => {};
    const promise = new Promise<void>((resolve) => {
      const set = this.#waiters.get(runId) ?? new Set();
      this.#waiters.set(runId, set);
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        set.delete(done);
        if (set.size === 0 && this.#waiters.get(runId) === set) this.#waiters.delete(runId);
        resolve();
      };
      cancel = done;
      set.add(done);
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener('abort', done, { once: true });
      if (this.#recent.has(runId)) queueMicrotask(done);
    });
    return { promise, cancel: () => cancel() };
  }
}
