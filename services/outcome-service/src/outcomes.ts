import type {
  AnalysisCompleted,
  AnalysisOutcome,
  DataOf,
  ScorecardByModel,
  ScorecardQuery,
} from '@chartwright/contracts';
import { ServiceError } from '@chartwright/kit';
import { addBars } from '@chartwright/market';
import { type Outcome, resolveOutcome, type ScoredSignal, scorecard } from '@chartwright/outcomes';
import type { Selectable } from 'kysely';
import type { OutcomeContext } from './context.js';
import type { OutcomeTable } from './db/schema.js';
import type { OutcomeEvents } from './events.js';

type Row = Selectable<OutcomeTable>;

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const ms = (t: number | null) => (t === null ? null : new Date(t));

/**
 * Follows completed analyses to their outcome on the bars after their chart: a historical chart
 * (its bars end in the past) resolves at once; a live one is checked again every
 * `OUTCOME_CHECK_INTERVAL_MS` until its horizon has passed.
 */
export class Outcomes {
  constructor(
    private readonly ctx: OutcomeContext,
    private readonly events: OutcomeEvents,
  ) {}

  /**
   * Starts following a completed analysis (once: the analysis id is the row's key) and checks it
   * at once. Analyses without real bars are not followed: synthetic bars have no future, and
   * without a window there is no price the signal was made at.
   */
  async follow(data: DataOf<typeof AnalysisCompleted>): Promise<void> {
    const { bars, result } = data;
    if (!bars || bars.synthetic) return;
    const style = data.tradingStyle ?? 'swing_trading';
    const row = await this.ctx.db
      .insertInto('outcomes')
      .values({
        analysis_id: data.analysisId,
        user_id: data.userId,
        chart_id: data.chartId,
        symbol: data.symbol,
        interval: data.interval,
        trading_style: style,
        model: data.metadata.model,
        recommendation: result.recommendation,
        entry_price: result.entryPrice,
        stop_loss: result.stopLoss,
        take_profit: result.takeProfit,
        confidence: result.confidence,
        horizon_bars: this.ctx.config.horizons[style],
        bars_source: bars.source,
        signal_at: new Date(bars.to),
        signal_close: null,
        status: 'open',
        pending: true,
        filled_at: null,
        exit_at: null,
        exit_price: null,
        r_multiple: null,
        bars_held: null,
        forward_return: null,
        resolved_at: null,
        checked_at: null,
      })
      .onConflict((oc) => oc.column('analysis_id').doNothing())
      .returningAll()
      .executeTakeFirst();
    if (row) await this.checkLogged(row);
  }

  /** Checks the pending signals not checked for an interval, oldest check first; several replicas share them. */
  async checkDue(): Promise<number> {
    const { db, config, clock } = this.ctx;
    const now = clock.now();
    const due = new Date(now.getTime() - config.checkIntervalMs);
    const rows = await db
      .updateTable('outcomes')
      .set({ checked_at: now })
      .where('analysis_id', 'in', (eb) =>
        eb
          .selectFrom('outcomes')
          .select('analysis_id')
          .where('pending', '=', true)
          .where((w) => w.or([w('checked_at', 'is', null), w('checked_at', '<', due)]))
          .orderBy('checked_at', (o) => o.asc().nullsFirst())
          .limit(config.checkBatch)
          .forUpdate()
          .skipLocked(),
      )
      .returningAll()
      .execute();
    for (const row of rows) await this.checkLogged(row);
    return rows.length;
  }

  private async checkLogged(row: Row): Promise<void> {
    await this.check(row).catch((err) =>
      this.ctx.logger.warn({ err, analysisId: row.analysis_id }, 'outcome not checked; tried again later'),
    );
  }

  /** Reads the bars after the signal and saves how far it has played out; the first final status sends the event. */
  async check(row: Row): Promise<Outcome | null> {
    const { market, clock, db } = this.ctx;
    const signalAt = row.signal_at.getTime();
    const end = addBars(signalAt, row.interval, row.horizon_bars);
    const series = await market.forWindow(row.symbol, row.interval, {
      source: row.bars_source,
      synthetic: false,
      seed: null,
      from: new Date(signalAt).toISOString(),
      to: new Date(end).toISOString(),
      count: row.horizon_bars + 1,
      warmUp: 0,
    });
    // Only closed bars: a live source's newest bar is still moving.
    const now = clock.now().getTime();
    const closed = series.bars.filter((b) => addBars(b.time, row.interval, 1) <= now);
    const signalClose = row.signal_close ?? closed.find((b) => b.time === signalAt)?.close;
    if (signalClose === undefined) {
      this.ctx.logger.warn({ analysisId: row.analysis_id }, "the source has no longer the signal's bar");
      return null;
    }
    const after = closed.filter((b) => b.time > signalAt);
    const outcome = resolveOutcome(
      {
        recommendation: row.recommendation,
        entryPrice: row.entry_price,
        stopLoss: row.stop_loss,
        takeProfit: row.take_profit,
        lastClose: signalClose,
      },
      after,
      row.horizon_bars,
    );
    const checkedAt = clock.now();
    const values = {
      signal_close: signalClose,
      status: outcome.status,
      filled_at: ms(outcome.filledAt),
      exit_at: ms(outcome.exitAt),
      exit_price: outcome.exitPrice,
      r_multiple: outcome.rMultiple,
      bars_held: outcome.barsHeld,
      forward_return: outcome.forwardReturn,
      pending: outcome.status === 'open' || outcome.forwardReturn === null,
      checked_at: checkedAt,
    };
    if (row.status === 'open' && outcome.status !== 'open') {
      const event = this.events.resolved({
        analysisId: row.analysis_id,
        userId: row.user_id,
        symbol: row.symbol,
        interval: row.interval,
        recommendation: row.recommendation,
        status: outcome.status,
        filledAt: iso(values.filled_at),
        exitAt: iso(values.exit_at),
        exitPrice: outcome.exitPrice,
        rMultiple: outcome.rMultiple,
        barsHeld: outcome.barsHeld,
        model: row.model,
        resolvedAt: checkedAt.toISOString(),
      });
      // Only the check that moves it from open sends the event.
      await this.events.saveWith(
        db,
        (qc) =>
          qc
            .updateTable('outcomes')
            .set({ ...values, resolved_at: checkedAt })
            .where('analysis_id', '=', row.analysis_id)
            .where('status', '=', 'open')
            .returning('analysis_id'),
        event,
      );
    } else if (row.status === 'open' || outcome.status === row.status) {
      await db
        .updateTable('outcomes')
        .set(values)
        .where('analysis_id', '=', row.analysis_id)
        .where('status', '=', row.status)
        .execute();
    }
    return outcome;
  }

  async get(analysisId: string, userId: string): Promise<AnalysisOutcome> {
    const row = await this.ctx.db
      .selectFrom('outcomes')
      .selectAll()
      .where('analysis_id', '=', analysisId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (!row)
      throw new ServiceError(
        'NOT_FOUND',
        'No outcome for this analysis: it is not yours, not completed, or was made on synthetic bars (which have no future to follow)',
      );
    return toOutcome(row);
  }

  async scorecard(q: ScorecardQuery & { userId: string }) {
    return scorecard((await this.rows(q)).map(scored));
  }

  async scorecardByModel(q: Omit<ScorecardQuery, 'model'>): Promise<ScorecardByModel> {
    const byModel = new Map<string, ScoredSignal[]>();
    for (const row of await this.rows(q)) {
      const list = byModel.get(row.model) ?? [];
      list.push(scored(row));
      byModel.set(row.model, list);
    }
    return {
      models: [...byModel]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([model, list]) => ({ model, scorecard: scorecard(list) })),
    };
  }

  /** A deleted chart's analyses are gone: so are their outcomes. */
  async chartDeleted(chartId: string): Promise<void> {
    await this.ctx.db.deleteFrom('outcomes').where('chart_id', '=', chartId).execute();
  }

  private rows(q: ScorecardQuery & { userId?: string }) {
    let query = this.ctx.db.selectFrom('outcomes').selectAll();
    if (q.userId) query = query.where('user_id', '=', q.userId);
    if (q.model) query = query.where('model', '=', q.model);
    if (q.symbol) query = query.where('symbol', '=', q.symbol);
    if (q.interval) query = query.where('interval', '=', q.interval);
    if (q.tradingStyle) query = query.where('trading_style', '=', q.tradingStyle);
    if (q.from) query = query.where('signal_at', '>=', new Date(q.from));
    if (q.to) query = query.where('signal_at', '<', new Date(q.to));
    return query.orderBy('signal_at').execute();
  }
}

const scored = (r: Row): ScoredSignal => ({
  recommendation: r.recommendation,
  confidence: r.confidence,
  status: r.status,
  rMultiple: r.r_multiple,
  forwardReturn: r.forward_return,
  exitAt: r.exit_at?.getTime() ?? null,
});

function toOutcome(r: Row): AnalysisOutcome {
  return {
    analysisId: r.analysis_id,
    status: r.status,
    recommendation: r.recommendation,
    symbol: r.symbol,
    interval: r.interval,
    tradingStyle: r.trading_style,
    entryPrice: r.entry_price,
    stopLoss: r.stop_loss,
    takeProfit: r.take_profit,
    confidence: r.confidence,
    horizonBars: r.horizon_bars,
    filledAt: iso(r.filled_at),
    exitAt: iso(r.exit_at),
    exitPrice: r.exit_price,
    rMultiple: r.r_multiple,
    barsHeld: r.bars_held,
    forwardReturn: r.forward_return,
    signalClose: r.signal_close,
    signalAt: r.signal_at.toISOString(),
    resolvedAt: iso(r.resolved_at),
    model: r.model,
  };
}
