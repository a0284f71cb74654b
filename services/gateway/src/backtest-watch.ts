import {
  type AnalysisBacktestFinished,
  type AnalysisBacktestProgressed,
  BacktestGet,
  type BacktestProgressEvent,
  type DataOf,
} from '@chartwright/contracts';
import { callRpc, type Logger, type MessageBus, ServiceError } from '@chartwright/kit';

interface Listener {
  userId: string;
  fn: (event: BacktestProgressEvent) => void;
}

/**
 * What this gateway replica learns of running backtests from the `analysis.backtest_*` events
 * every replica watches (`consumers.ts`), for progress streams. When events may have been missed
 * (a reconnect), `catchUp` reads each listened backtest once.
 */
export class BacktestWatch {
  readonly #listeners = new Map<string, Set<Listener>>();

  constructor(
    private readonly bus: MessageBus,
    private readonly logger: Logger,
  ) {}

  /** Hands `fn` each progress event of `backtestId` until the returned function is called. */
  listen(userId: string, backtestId: string, fn: (event: BacktestProgressEvent) => void): () => void {
    const listener: Listener = { userId, fn };
    const set = this.#listeners.get(backtestId) ?? new Set();
    this.#listeners.set(backtestId, set);
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.#listeners.get(backtestId) === set) this.#listeners.delete(backtestId);
    };
  }

  progressed(d: DataOf<typeof AnalysisBacktestProgressed>): void {
    this.#emit({ backtestId: d.backtestId, status: d.status, done: d.done, total: d.total, at: d.at });
  }

  finished(d: DataOf<typeof AnalysisBacktestFinished>): void {
    this.#emit({ backtestId: d.backtestId, status: d.status, done: d.done, total: d.total, at: d.at });
  }

  /** Events may have been missed: one read of each backtest someone listens to. */
  async catchUp(): Promise<void> {
    await Promise.all(
      [...this.#listeners].map(async ([backtestId, set]) => {
        const userId = [...set][0]?.userId;
        if (!userId) return;
        try {
          const b = await callRpc(this.bus, BacktestGet, { userId, backtestId });
          this.#emit({
            backtestId,
            status: b.status,
            done: b.progress.done,
            total: b.progress.total,
            at: b.finishedAt ?? new Date().toISOString(),
          });
        } catch (err) {
          if (err instanceof ServiceError && err.code === 'NOT_FOUND') return;
          this.logger.warn({ err, backtestId }, 'backtest not read after missed events');
        }
      }),
    );
  }

  #emit(event: BacktestProgressEvent): void {
    for (const l of this.#listeners.get(event.backtestId) ?? []) l.fn(event);
  }
}
