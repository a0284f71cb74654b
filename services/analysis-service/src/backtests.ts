import { randomInt } from 'node:crypto';
import {
  type Backtest,
  type BacktestBrief,
  type BacktestTrade,
  type CreateBacktestRequest,
  QuotaRelease,
  QuotaReserve,
} from '@chartwright/contracts';
import { callRpc, newId, ServiceError } from '@chartwright/kit';
import { DEFAULT_HORIZONS, type Outcome } from '@chartwright/outcomes';
import type { Kysely, Selectable } from 'kysely';
import { BUILTIN_MODEL, BuiltinAnalyst } from './analyst/builtin.js';
import { checkSpan } from './backtest/data.js';
import { type ReplayTrade, scorecardOf, windowBarsFor } from './backtest/replay.js';
import type { BacktestRunner } from './backtest/runner.js';
import type { AnalysisContext } from './context.js';
import { quotaCounter } from './db/analyses.js';
import type { AnalysisDb, BacktestTable, BacktestTradeTable } from './db/schema.js';

/** A backtest's reservation lives as long as the longest job may (quota-service's bound). */
const RESERVATION_TTL_SECONDS = 86_400;
export const UNFINISHED = ['queued', 'running'] as const;

type Row = Selectable<BacktestTable>;
const iso = (d: Date | null) => (d ? d.toISOString() : null);
const isoMs = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function toBrief(r: Row): BacktestBrief {
  return {
    id: r.id,
    status: r.status,
    symbol: r.symbol,
    interval: r.interval,
    from: r.from_at.toISOString(),
    to: r.to_at.toISOString(),
    step: r.step,
    analyst: r.analyst,
    model: r.model,
    tradingStyle: r.trading_style,
    prompt: r.prompt,
    progress: { done: r.done, total: r.total },
    analysesCharged: r.analyses_charged,
    error: r.error_code ? { code: r.error_code, reason: r.error_reason ?? '' } : null,
    createdAt: r.created_at.toISOString(),
    startedAt: iso(r.started_at),
    finishedAt: iso(r.finished_at),
  };
}

/** A saved step as the replay's trade (what scorecards and baselines read). */
export const toReplayTrade = (t: Selectable<BacktestTradeTable>): ReplayTrade => ({
  at: t.at.getTime(),
  recommendation: t.recommendation,
  entryPrice: t.entry_price,
  stopLoss: t.stop_loss,
  takeProfit: t.take_profit,
  confidence: t.confidence,
  outcome: t.outcome as Outcome,
});

function toTrade(t: Selectable<BacktestTradeTable>): BacktestTrade {
  const o = t.outcome as Outcome;
  return {
    step: t.step,
    at: t.at.toISOString(),
    recommendation: t.recommendation,
    entryPrice: t.entry_price,
    stopLoss: t.stop_loss,
    takeProfit: t.take_profit,
    confidence: t.confidence,
    outcome: o.status,
    rMultiple: o.rMultiple,
    filledAt: isoMs(o.filledAt),
    exitAt: isoMs(o.exitAt),
    exitPrice: o.exitPrice,
    barsHeld: o.barsHeld,
    forwardReturn: o.forwardReturn,
  };
}

export async function tradesOf(db: Kysely<AnalysisDb>, backtestId: string, offset = 0, limit?: number) {
  let q = db
    .selectFrom('backtest_trades')
    .selectAll()
    .where('backtest_id', '=', backtestId)
    .orderBy('step')
    .offset(offset);
  if (limit !== undefined) q = q.limit(limit);
  return q.execute();
}

/**
 * analysis-service's backtests: accept one (checked against the data and the bounds, quota
 * reserved, queued for `BacktestRunner`), read, list, cancel and delete the caller's.
 */
export class Backtests {
  constructor(
    private readonly ctx: AnalysisContext,
    private readonly runner: BacktestRunner,
  ) {}

  async create(userId: string, req: CreateBacktestRequest, idempotencyKey?: string): Promise<Backtest> {
    const { db, bus, market, analyst } = this.ctx;
    if (idempotencyKey) {
      const made = await this.#madeBefore(userId, idempotencyKey);
      if (made) return made;
    }
    if (req.analyst === 'anthropic' && analyst instanceof BuiltinAnalyst)
      throw new ServiceError('VALIDATION_ERROR', 'no model analyst is set up (ANTHROPIC_API_KEY)', [
        { field: 'analyst', message: 'no model analyst is set up on this server; use "builtin"' },
      ]);
    const horizon = DEFAULT_HORIZONS[req.tradingStyle];
    const from = Date.parse(req.from);
    const to = Date.parse(req.to);
    const { indices } = await checkSpan(
      market,
      {
        symbol: req.symbol,
        interval: req.interval,
        from,
        to,
        step: req.step,
        windowBars: windowBarsFor(),
        horizon,
        analyst: req.analyst,
      },
      this.ctx.clock.now().getTime(),
    );
    const total = indices.length;
    // The built-in analyst counts as one analysis; a model as one per step, all reserved now.
    const amount = req.analyst === 'builtin' ? 1 : total;
    const id = newId();
    const reservationId = newId();
    const reserved = await callRpc(bus, QuotaReserve, {
      userId,
      kind: 'analyses',
      amount,
      reservationId,
      ttlSeconds: RESERVATION_TTL_SECONDS,
    });
    if (!reserved.granted)
      throw new ServiceError(
        'QUOTA_EXCEEDED',
        `This backtest needs ${amount} analyses of your monthly quota, which cannot cover it.`,
        { quota: quotaCounter(reserved.quota), needed: amount },
      );
    let row: Row;
    try {
      row = await db
        .insertInto('backtests')
        .values({
          id,
          user_id: userId,
          status: 'queued',
          symbol: req.symbol,
          interval: req.interval,
          from_at: new Date(from),
          to_at: new Date(to),
          step: req.step,
          analyst: req.analyst,
          model: req.analyst === 'builtin' ? BUILTIN_MODEL : analyst.model,
          trading_style: req.tradingStyle,
          prompt: req.prompt,
          horizon,
          seed: randomInt(1, 2 ** 31 - 1),
          total,
          reservation_id: reservationId,
          baselines: null,
          error_code: null,
          error_reason: null,
          leased_by: null,
          lease_until: null,
          started_at: null,
          finished_at: null,
          idempotency_key: idempotencyKey ?? null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
    } catch (err) {
      await callRpc(bus, QuotaRelease, { reservationId }).catch(() => undefined);
      // Another attempt of the same request made it first: that one is the answer.
      if (idempotencyKey && (err as { code?: unknown }).code === '23505') {
        const made = await this.#madeBefore(userId, idempotencyKey);
        if (made) return made;
      }
      throw err;
    }
    this.runner.kick();
    return { ...toBrief(row), scorecard: scorecardOf([]), baselines: null, trades: [] };
  }

  /** The backtest an earlier attempt of the same request made (same `idempotencyKey`). */
  async #madeBefore(userId: string, idempotencyKey: string): Promise<Backtest | undefined> {
    const row = await this.ctx.db
      .selectFrom('backtests')
      .select('id')
      .where('user_id', '=', userId)
      .where('idempotency_key', '=', idempotencyKey)
      .executeTakeFirst();
    return row ? this.get(userId, row.id) : undefined;
  }

  async #row(userId: string, backtestId: string): Promise<Row> {
    const row = await this.ctx.db
      .selectFrom('backtests')
      .selectAll()
      .where('id', '=', backtestId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (!row) throw new ServiceError('NOT_FOUND', 'backtest not found');
    return row;
  }

  /** The backtest with the scorecard of its trades so far; trades come in pages (`trades`). */
  async get(userId: string, backtestId: string): Promise<Backtest> {
    const row = await this.#row(userId, backtestId);
    const trades = await tradesOf(this.ctx.db, row.id);
    return {
      ...toBrief(row),
      scorecard: scorecardOf(trades.map(toReplayTrade)),
      baselines: row.baselines,
      trades: [],
    };
  }

  async trades(q: { userId: string; backtestId: string; offset: number; limit: number }) {
    const row = await this.#row(q.userId, q.backtestId);
    const trades = await tradesOf(this.ctx.db, row.id, q.offset, q.limit);
    return { trades: trades.map(toTrade), total: row.done };
  }

  async list(q: { userId: string; limit: number; offset: number }) {
    const { db } = this.ctx;
    const [rows, count] = await Promise.all([
      db
        .selectFrom('backtests')
        .selectAll()
        .where('user_id', '=', q.userId)
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(q.limit)
        .offset(q.offset)
        .execute(),
      db
        .selectFrom('backtests')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('user_id', '=', q.userId)
        .executeTakeFirstOrThrow(),
    ]);
    return { backtests: rows.map(toBrief), total: Number(count.n) };
  }

  /** Cancels a queued or running backtest; its worker stops at its next step and settles the quota. */
  async cancel(userId: string, backtestId: string): Promise<Backtest> {
    const row = await this.#row(userId, backtestId);
    if (!(UNFINISHED as readonly string[]).includes(row.status))
      throw new ServiceError('CONFLICT', `the backtest is ${row.status} already`);
    await this.runner.finish(row.id, 'cancelled', null);
    return this.get(userId, backtestId);
  }

  /** Deletes a backtest and its trades; an unfinished one is cancelled first (its quota settled). */
  async delete(userId: string, backtestId: string): Promise<void> {
    const row = await this.#row(userId, backtestId);
    if ((UNFINISHED as readonly string[]).includes(row.status))
      await this.runner.finish(row.id, 'cancelled', null);
    await this.ctx.db
      .deleteFrom('backtests')
      .where('id', '=', row.id)
      .where('user_id', '=', userId)
      .execute();
  }
}
