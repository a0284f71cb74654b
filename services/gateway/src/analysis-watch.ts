import {
  type AnalysisCompleted,
  type AnalysisFailed,
  AnalysisGet,
  type AnalysisProgressEvent,
  type AnalysisProgressed,
  type AnalysisRecord,
  type AnalysisStatus,
  type DataOf,
} from '@chartwright/contracts';
import { callRpc, type Logger, type MessageBus, ServiceError } from '@chartwright/kit';

/** A step of an analysis, as progress streams show it. */
export type Step = AnalysisProgressEvent;

const RANK: Record<AnalysisStatus, number> = {
  queued: 0,
  downloading: 1,
  analysing: 2,
  completed: 3,
  failed: 3,
};
export const isFinal = (s: Step) => RANK[s.status] === 3;

/** Outcomes kept for a listener that comes just after its event (a fast analysis). */
const RECENT_MS = 120_000;
const RECENT_MAX = 10_000;

/** The steps an analysis has gone through, in order, from its record. */
export function stepsOf(r: AnalysisRecord): Step[] {
  const steps: Step[] = [{ analysisId: r.id, status: 'queued', at: r.createdAt }];
  if (r.downloadingAt) steps.push({ analysisId: r.id, status: 'downloading', at: r.downloadingAt });
  if (r.analysingAt) steps.push({ analysisId: r.id, status: 'analysing', at: r.analysingAt });
  const at = r.completedAt ?? new Date().toISOString();
  if (r.status === 'completed' && r.result && r.metadata) {
    steps.push({ analysisId: r.id, status: 'completed', at, analysis: r.result, metadata: r.metadata });
  } else if (r.status === 'failed') {
    steps.push({ analysisId: r.id, status: 'failed', at, ...(r.error ? { error: r.error } : {}) });
  }
  return steps;
}

interface Listener {
  userId: string;
  /** The furthest step handed over: a step is handed over once, in order. */
  rank: number;
  fn: (step: Step) => void;
}

/**
 * What this gateway replica knows of analyses in progress, from the `analysis.*` events every
 * replica watches (`consumers.ts`). Waits, progress streams and the 202 path all listen here; no
 * request is held open elsewhere and nothing polls. When events may have been missed (a
 * reconnect), `catchUp` reads each listened analysis once.
 */
export class AnalysisWatch {
  readonly #listeners = new Map<string, Set<Listener>>();
  readonly #recent = new Map<string, { step: Step; at: number }>();

  constructor(
    private readonly bus: MessageBus,
    private readonly logger: Logger,
  ) {}

  /**
   * Hands `fn` each new step of `analysisId`, in order and once each, until the returned function
   * is called. A recent outcome is handed over at once.
   */
  listen(userId: string, analysisId: string, fn: (step: Step) => void): () => void {
    const listener: Listener = { userId, rank: -1, fn };
    const set = this.#listeners.get(analysisId) ?? new Set();
    this.#listeners.set(analysisId, set);
    set.add(listener);
    const recent = this.#recent.get(analysisId);
    if (recent) queueMicrotask(() => this.#hand(listener, recent.step));
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.#listeners.get(analysisId) === set) this.#listeners.delete(analysisId);
    };
  }

  /** The outcome of `analysisId`, or undefined when `ms` pass first (or `signal` aborts: a drain). */
  outcome(userId: string, analysisId: string, ms: number, signal?: AbortSignal): Promise<Step | undefined> {
    return new Promise((resolve) => {
      let ended = false;
      const end = (step: Step | undefined) => {
        if (ended) return;
        ended = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', giveUp);
        stop();
        resolve(step);
      };
      const giveUp = () => end(undefined);
      const stop = this.listen(userId, analysisId, (step) => {
        if (isFinal(step)) end(step);
      });
      // At the end of the wait, one read: an outcome whose event this replica missed (its watch
      // was being recovered after a reconnect) is still answered, not left to a 202.
      const lastLook = () =>
        void this.read(userId, analysisId)
          .catch(() => undefined)
          .then((step) => end(step));
      const timer = setTimeout(lastLook, ms);
      if (signal?.aborted) giveUp();
      else signal?.addEventListener('abort', giveUp, { once: true });
    });
  }

  progressed(d: DataOf<typeof AnalysisProgressed>): void {
    this.#step({ analysisId: d.analysisId, status: d.status, at: d.at });
  }

  completed(d: DataOf<typeof AnalysisCompleted>): void {
    this.#step({
      analysisId: d.analysisId,
      status: 'completed',
      at: d.completedAt,
      analysis: d.result,
      metadata: d.metadata,
    });
  }

  failed(d: DataOf<typeof AnalysisFailed>): void {
    this.#step({
      analysisId: d.analysisId,
      status: 'failed',
      at: d.failedAt,
      error: { code: d.code, reason: d.reason },
    });
  }

  /** The outcome of a finished analysis, read once (e.g. a replayed request whose events are long gone). */
  async read(userId: string, analysisId: string): Promise<Step | undefined> {
    const record = await callRpc(this.bus, AnalysisGet, { userId, analysisId });
    return stepsOf(record).find(isFinal);
  }

  /** Events may have been missed: one read of each analysis someone listens to. */
  async catchUp(): Promise<void> {
    const pending = [...this.#listeners].map(([analysisId, set]) => ({
      analysisId,
      userId: [...set][0]?.userId,
    }));
    this.logger.info({ analyses: pending.length }, 'analysis events may have been missed; reading them');
    await Promise.all(
      pending.map(async ({ analysisId, userId }) => {
        if (!userId) return;
        try {
          const record = await callRpc(this.bus, AnalysisGet, { userId, analysisId });
          for (const step of stepsOf(record)) this.#step(step);
        } catch (err) {
          if (err instanceof ServiceError && err.code === 'NOT_FOUND') return;
          this.logger.warn({ err, analysisId }, 'analysis not read after missed events');
        }
      }),
    );
  }

  #step(step: Step): void {
    if (isFinal(step)) this.#remember(step);
    for (const l of this.#listeners.get(step.analysisId) ?? []) this.#hand(l, step);
  }

  #hand(l: Listener, step: Step): void {
    const rank = RANK[step.status];
    if (rank <= l.rank) return;
    l.rank = rank;
    l.fn(step);
  }

  #remember(step: Step): void {
    const now = Date.now();
    this.#recent.set(step.analysisId, { step, at: now });
    for (const [id, r] of this.#recent) {
      if (this.#recent.size <= RECENT_MAX && now - r.at < RECENT_MS) break;
      this.#recent.delete(id);
    }
  }
}
