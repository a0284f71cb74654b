import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import type { BacktestBaselines } from '@chartwright/contracts';
import { type BacktestStatus, ChartConfig, ChartRenderBars } from '@chartwright/contracts';
import { callRpc, isDatabaseUnavailable, ServiceError } from '@chartwright/kit';
import { type Bar, DEFAULT_BARS, MarketDataError } from '@chartwright/market';
import { type Selectable, sql } from 'kysely';
import { BuiltinAnalyst } from '../analyst/builtin.js';
import { AnalystError } from '../analyst/errors.js';
import { toReplayTrade, tradesOf, UNFINISHED } from '../backtests.js';
import type { AnalysisContext } from '../context.js';
import type { BacktestTable } from '../db/schema.js';
import type { AnalysisEvents } from '../events.js';
import { tempImagePath } from '../tempfiles.js';
import { loadSpan } from './data.js';
import {
  baselines,
  type ReplayTrade,
  replayStep,
  type StepSetup,
  stepIndices,
  windowBarsFor,
} from './replay.js';

type Row = Selectable<BacktestTable>;
/** Steps of the built-in analyst saved together (a model's each on its own: each one costs). */
const BATCH_STEPS = 100;

/** Failures that say a dependency is away for now, not that the backtest is wrong. */
function transient(err: unknown): boolean {
  if (isDatabaseUnavailable(err)) return true;
  if (err instanceof MarketDataError) return ['RATE_LIMITED', 'UPSTREAM_ERROR', 'TIMEOUT'].includes(err.code);
  return err instanceof ServiceError && ['SERVICE_UNAVAILABLE', 'TIMEOUT'].includes(err.code);
}
const BATCH_MS = 500;
/** At most one progress event per backtest this often. */
const PROGRESS_MS = 1_000;

class Stopped extends Error {}

/**
 * Runs backtests: claims a queued job, or one whose worker's lease lapsed, with `FOR UPDATE SKIP
 * LOCKED` (replicas share the jobs), renews the lease while it works, and saves each step's trade
 * as the checkpoint, so a restarted or other worker resumes after the last saved step and gives
 * the same trades. Finishing saves the result with `analysis.backtest_finished` (outbox), which
 * settles the quota reservation.
 */
export class BacktestRunner {
  readonly #me = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  readonly #running = new Map<string, { abort: AbortController; done: Promise<void> }>();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #polling = false;
  #pollDone: Promise<void> = Promise.resolve();
  #again = false;

  constructor(
    private readonly ctx: AnalysisContext,
    private readonly events: AnalysisEvents,
  ) {}

  start(): void {
    this.#timer = setInterval(() => this.kick(), this.ctx.config.backtest.pollMs);
    this.#timer.unref();
    this.kick();
  }

  /** Looks for work now (a backtest was just queued, a slot came free). */
  kick(): void {
    if (this.#stopped) return;
    if (this.#polling) {
      this.#again = true;
      return;
    }
    this.#polling = true;
    this.#pollDone = this.#poll()
      .catch((err) => this.ctx.logger.warn({ err }, 'backtest poll failed'))
      .finally(() => {
        this.#polling = false;
        if (this.#again) {
          this.#again = false;
          this.kick();
        }
      });
  }

  /** Stops the jobs of this process and gives their leases up, so another worker resumes them at once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    // A claim in flight either starts its job (stopped below) or gives it back.
    await this.#pollDone;
    const jobs = [...this.#running.values()];
    for (const j of jobs) j.abort.abort();
    await Promise.all(jobs.map((j) => j.done));
  }

  async #poll(): Promise<void> {
    while (!this.#stopped && this.#running.size < this.ctx.config.backtest.concurrency) {
      const job = await this.#claim();
      if (!job) return;
      const abort = new AbortController();
      if (this.#stopped) abort.abort();
      const done = this.#run(job, abort)
        .catch((err) => this.ctx.logger.warn({ err, backtestId: job.id }, 'backtest stopped on an error'))
        .finally(() => {
          this.#running.delete(job.id);
          this.kick();
        });
      this.#running.set(job.id, { abort, done });
    }
  }

  #claim(): Promise<Row | undefined> {
    const { db, config } = this.ctx;
    return db
      .updateTable('backtests')
      .set((eb) => ({
        status: 'running',
        leased_by: this.#me,
        lease_until: sql<Date>`now() + ${config.backtest.leaseMs} * interval '1 millisecond'`,
        started_at: eb.fn.coalesce('started_at', sql<Date>`now()`),
      }))
      .where('id', '=', (eb) =>
        eb
          .selectFrom('backtests')
          .select('id')
          .where('status', 'in', UNFINISHED)
          .where((w) => w.or([w('lease_until', 'is', null), w('lease_until', '<', sql<Date>`now()`)]))
          .orderBy('created_at')
          .limit(1)
          .forUpdate()
          .skipLocked(),
      )
      .returningAll()
      .executeTakeFirst();
  }

  /** Extends this worker's lease; false when it is no longer this worker's running job. */
  async #renew(id: string): Promise<boolean> {
    const r = await this.ctx.db
      .updateTable('backtests')
      .set({ lease_until: sql<Date>`now() + ${this.ctx.config.backtest.leaseMs} * interval '1 millisecond'` })
      .where('id', '=', id)
      .where('leased_by', '=', this.#me)
      .where('status', '=', 'running')
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  async #run(job: Row, abort: AbortController): Promise<void> {
    const { db, config, logger } = this.ctx;
    const signal = abort.signal;
    const renew = setInterval(
      () =>
        void this.#renew(job.id)
          .then((ok) => {
            if (!ok) abort.abort();
          })
          .catch((err) => logger.warn({ err, backtestId: job.id }, 'backtest lease not renewed')),
      Math.max(50, Math.floor(config.backtest.leaseMs / 3)),
    );
    renew.unref();
    try {
      const span = {
        symbol: job.symbol,
        interval: job.interval,
        from: job.from_at.getTime(),
        to: job.to_at.getTime(),
        step: job.step,
        windowBars: windowBarsFor(),
        horizon: job.horizon,
      };
      const bars = await loadSpan(this.ctx.market, span, signal);
      const indices = stepIndices(bars, span);
      const last = await db
        .selectFrom('backtest_trades')
        .select((eb) => eb.fn.max<number | null>('step').as('step'))
        .where('backtest_id', '=', job.id)
        .executeTakeFirst();
      const next = last?.step == null ? 0 : last.step + 1;
      const setup = this.#setup(job, signal);
      let pending: { step: number; trade: ReplayTrade }[] = [];
      let flushedAt = performance.now();
      let progressAt = 0;
      const flush = async () => {
        if (pending.length === 0) return;
        const batch = pending;
        pending = [];
        flushedAt = performance.now();
        const done = batch[batch.length - 1]!.step + 1;
        await this.#save(job.id, batch, done);
        if (performance.now() - progressAt >= PROGRESS_MS) {
          progressAt = performance.now();
          this.events.backtestProgressed({
            backtestId: job.id,
            userId: job.user_id,
            status: 'running',
            done,
            total: indices.length,
            at: new Date().toISOString(),
          });
        }
      };
      const model = job.analyst !== 'builtin';
      for (let k = next; k < indices.length; k++) {
        if (signal.aborted) throw new Stopped();
        pending.push({ step: k, trade: await this.#step(bars, indices[k]!, setup, job, k, signal) });
        if (model || pending.length >= BATCH_STEPS || performance.now() - flushedAt >= BATCH_MS)
          await flush();
      }
      await flush();
      const trades = (await tradesOf(db, job.id)).map(toReplayTrade);
      const b = baselines(bars, indices, trades, job.seed, job.horizon);
      await this.finish(job.id, 'completed', null, {
        onlyIf: this.#me,
        baselines: { buyAndHold: { return: b.buyAndHoldReturn }, random: b.random },
      });
    } catch (err) {
      if (err instanceof Stopped || signal.aborted || this.#stopped) {
        // Cancelled, lease lost, or this process stops: whoever holds the job goes on with it.
        await db
          .updateTable('backtests')
          .set({ leased_by: null, lease_until: null })
          .where('id', '=', job.id)
          .where('leased_by', '=', this.#me)
          .execute()
          .catch(() => undefined);
        return;
      }
      if (transient(err) && job.retries < config.maxAttempts) {
        // The database, the market data or chart-service is away for a moment: the job is given
        // back with a delay and resumes after its last saved step (here or on another replica),
        // rather than failing a long run over a blip. Bounded: failures in a row, reset by progress.
        const wait = config.retryBackoffMs[Math.min(job.retries, config.retryBackoffMs.length - 1)]!;
        logger.warn(
          { err, backtestId: job.id, retry: job.retries + 1, waitMs: wait },
          'backtest paused on a transient error',
        );
        await db
          .updateTable('backtests')
          .set({
            retries: job.retries + 1,
            leased_by: null,
            lease_until: sql<Date>`now() + ${wait} * interval '1 millisecond'`,
          })
          .where('id', '=', job.id)
          .where('leased_by', '=', this.#me)
          .execute()
          // Unreachable database: the lease lapses by itself and the job is taken again then.
          .catch(() => undefined);
        return;
      }
      const error =
        err instanceof AnalystError
          ? { code: err.code, reason: err.message }
          : err instanceof MarketDataError
            ? { code: 'MARKET_DATA_UNAVAILABLE', reason: `market data: ${err.message}` }
            : { code: 'INTERNAL', reason: `the backtest failed: ${(err as Error)?.message ?? String(err)}` };
      if (error.code === 'INTERNAL') logger.error({ err, backtestId: job.id }, 'backtest failed');
      await this.finish(job.id, 'failed', error, { onlyIf: this.#me });
    } finally {
      clearInterval(renew);
    }
  }

  #setup(job: Row, signal: AbortSignal): StepSetup {
    const builtin = job.analyst === 'builtin';
    return {
      analyst: builtin ? new BuiltinAnalyst() : this.ctx.analyst,
      symbol: job.symbol,
      interval: job.interval,
      tradingStyle: job.trading_style,
      horizon: job.horizon,
      windowBars: windowBarsFor(),
      userPrompt: job.prompt ?? undefined,
      signal,
    };
  }

  /**
   * One step; a model's transient errors are tried again (ANALYSIS_MAX_ATTEMPTS, with the retry
   * backoff). A model reads an image: the window is drawn by chart-service, kept in a temp file
   * for the call only, and never becomes a chart of anyone's history.
   */
  async #step(
    bars: readonly Bar[],
    i: number,
    setup: StepSetup,
    job: Row,
    k: number,
    signal: AbortSignal,
  ): Promise<ReplayTrade> {
    if (job.analyst === 'builtin') return replayStep(bars, i, setup);
    const { config } = this.ctx;
    for (let attempt = 1; ; attempt++) {
      const files: string[] = [];
      try {
        return await replayStep(bars, i, {
          ...setup,
          image: async (window) => {
            const rendered = await callRpc(this.ctx.bus, ChartRenderBars, {
              config: ChartConfig.parse({ symbol: job.symbol, interval: job.interval, format: 'png' }),
              bars: [...window],
              visibleBars: Math.min(DEFAULT_BARS, window.length),
            });
            await mkdir(config.tmpDir, { recursive: true });
            const file = tempImagePath(config.tmpDir, `${job.id}-${k}`, 'png');
            files.push(file);
            await writeFile(file, Buffer.from(rendered.data, 'base64'), { mode: 0o600 });
            return { imagePath: file, mediaType: 'image/png' };
          },
        });
      } catch (err) {
        if (
          !(err instanceof AnalystError && err.retryable) ||
          attempt >= config.maxAttempts ||
          signal.aborted
        )
          throw err;
        const backoff = config.retryBackoffMs;
        await delay(backoff[Math.min(attempt - 1, backoff.length - 1)]!, undefined, { signal }).catch(
          () => undefined,
        );
      } finally {
        for (const f of files) await rm(f, { force: true }).catch(() => undefined);
      }
    }
  }

  /** Saves steps and the progress, while the job is still this worker's; else it stops. */
  async #save(id: string, batch: { step: number; trade: ReplayTrade }[], done: number): Promise<void> {
    const saved = await this.ctx.db.transaction().execute(async (trx) => {
      const r = await trx
        .updateTable('backtests')
        // Saving is also a sign of life: the lease is extended with it.
        .set({
          done,
          retries: 0,
          lease_until: sql<Date>`now() + ${this.ctx.config.backtest.leaseMs} * interval '1 millisecond'`,
        })
        .where('id', '=', id)
        .where('leased_by', '=', this.#me)
        .where('status', '=', 'running')
        .executeTakeFirst();
      if (r.numUpdatedRows === 0n) return false;
      await trx
        .insertInto('backtest_trades')
        .values(
          batch.map(({ step, trade: t }) => ({
            backtest_id: id,
            step,
            at: new Date(t.at),
            recommendation: t.recommendation,
            entry_price: t.entryPrice,
            stop_loss: t.stopLoss,
            take_profit: t.takeProfit,
            confidence: t.confidence,
            outcome: JSON.stringify(t.outcome) as never,
          })),
        )
        .onConflict((oc) => oc.columns(['backtest_id', 'step']).doNothing())
        .execute();
      return true;
    });
    if (!saved) throw new Stopped();
  }

  /**
   * Ends an unfinished backtest with `analysis.backtest_finished` in the same transaction: the
   * analyses it used are charged (1 for the built-in analyst once a step ran, one per step done
   * with a model) and the rest of the reservation goes back. `onlyIf`: only while that worker
   * holds it. A job running here stops at once.
   */
  async finish(
    id: string,
    status: Extract<BacktestStatus, 'completed' | 'failed' | 'cancelled'>,
    error: { code: string; reason: string } | null,
    opts: { onlyIf?: string; baselines?: BacktestBaselines } = {},
  ): Promise<void> {
    const event = await this.ctx.db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('backtests')
        .selectAll()
        .where('id', '=', id)
        .where('status', 'in', UNFINISHED)
        .forUpdate()
        .executeTakeFirst();
      if (!row || (opts.onlyIf && row.leased_by !== opts.onlyIf)) return undefined;
      const used = row.analyst === 'builtin' ? (status === 'completed' || row.done > 0 ? 1 : 0) : row.done;
      const at = new Date();
      await trx
        .updateTable('backtests')
        .set({
          status,
          error_code: error?.code ?? null,
          error_reason: error?.reason ?? null,
          analyses_charged: used,
          baselines: opts.baselines ? (JSON.stringify(opts.baselines) as never) : null,
          leased_by: null,
          lease_until: null,
          finished_at: at,
        })
        .where('id', '=', id)
        .execute();
      const event = this.events.backtestFinished({
        backtestId: id,
        userId: row.user_id,
        status,
        reservationId: row.reservation_id,
        analysesUsed: used,
        done: row.done,
        total: row.total,
        error,
        at: at.toISOString(),
      });
      await this.events.store(trx, event);
      return event;
    });
    if (!event) return;
    this.events.send([event]);
    this.#running.get(id)?.abort.abort();
  }
}
