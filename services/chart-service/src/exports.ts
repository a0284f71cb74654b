import { ChartConfig, type ChartExportRow, type ExportCursor } from '@chartwright/contracts';
import { ServiceError } from '@chartwright/kit';
import type { ChartSeries } from '@chartwright/market';
import { sql } from 'kysely';
import { type Charts, symbolMatches, symbolsOf } from './charts.js';
import type { ChartContext } from './context.js';
import { marketError } from './market.js';
import { alignSeries, PoolBusyError } from './render/index.js';

/** chart-service's exports: a chart's SVG drawn again, and the history in pages for CSV. */
export class ChartExports {
  constructor(
    private readonly d: ChartContext,
    private readonly charts: Charts,
  ) {}

  /**
   * The chart as SVG or PNG, drawn again from its stored config and bar window (a chart-img.com chart has
   * neither: CONFLICT). Synthetic bars are re-created from their seed, real ones fetched again.
   */
  async render(
    userId: string,
    chartId: string,
    format: 'svg' | 'png',
  ): Promise<{ data: string; encoding: 'utf8' | 'base64'; contentType: string }> {
    const row = await this.charts.row(userId, chartId);
    if (row.renderer !== 'builtin')
      throw new ServiceError(
        'CONFLICT',
        'SVG export needs a chart drawn by the built-in renderer; this one was drawn by chart-img.com, which makes PNG images only (export it as png or pdf)',
      );
    const config = { ...ChartConfig.parse(row.config), format };
    const series = (symbol: string): Promise<ChartSeries> =>
      (row.bars
        ? this.d.market.forWindow(symbol, config.interval, row.bars)
        : this.d.market.forChart({ ...config, symbol }, row.created_at)
      ).catch((err) => {
        throw marketError(err);
      });
    const first = await series(row.symbol);
    let compare: ReturnType<typeof alignSeries> | undefined;
    if (config.compare) {
      const all = await Promise.all(
        config.compare.symbols.map(async (symbol, i) => {
          const s = i === 0 ? first : await series(symbol);
          return { symbol, bars: s.bars.slice(s.bars.length - s.visible) };
        }),
      );
      compare = alignSeries(all);
    }
    const rendered = await this.d.pool.render({
      config,
      bars: first.bars,
      synthetic: first.synthetic,
      visibleBars: first.visible,
      compare,
    });
    return format === 'svg'
      ? { data: rendered.data.toString('utf8'), encoding: 'utf8', contentType: rendered.contentType }
      : { data: rendered.data.toString('base64'), encoding: 'base64', contentType: rendered.contentType };
  }

  /**
   * Bars drawn as they are given, without making a chart: nothing is stored, charged or listed
   * (a backtest's historical windows for a model, an equity curve).
   */
  async renderBars(req: {
    config: ChartConfig;
    bars: { time: number; open: number; high: number; low: number; close: number; volume: number }[];
    visibleBars?: number | undefined;
    label?: string | undefined;
    valueLabel?: string | undefined;
  }): Promise<{ data: string; encoding: 'utf8' | 'base64'; contentType: string }> {
    const rendered = await this.d.pool
      .render({
        config: req.config,
        bars: req.bars,
        synthetic: false,
        visibleBars: req.visibleBars,
        symbolLabel: req.label,
        valueLabel: req.valueLabel,
      })
      .catch((err) => {
        if (err instanceof PoolBusyError) throw new ServiceError('SERVICE_UNAVAILABLE', err.message);
        throw err;
      });
    return req.config.format === 'svg'
      ? { data: rendered.data.toString('utf8'), encoding: 'utf8', contentType: rendered.contentType }
      : { data: rendered.data.toString('base64'), encoding: 'base64', contentType: rendered.contentType };
  }

  /** One page of the caller's charts, newest first, after `after`. */
  async page(q: {
    userId: string;
    from?: string;
    to?: string;
    symbol?: string;
    after?: ExportCursor;
    limit: number;
  }): Promise<{ rows: ChartExportRow[]; next: ExportCursor | null }> {
    let query = this.d.db
      .selectFrom('charts')
      .selectAll()
      // The cursor keeps PostgreSQL's microseconds: a Date would round them off and skip rows.
      .select(
        sql<string>`to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as('cursor_at'),
      )
      .where('user_id', '=', q.userId);
    if (q.from) query = query.where('created_at', '>=', new Date(q.from));
    if (q.to) query = query.where('created_at', '<', new Date(q.to));
    if (q.symbol) query = query.where(symbolMatches(q.symbol));
    if (q.after) {
      const { createdAt, id } = q.after;
      query = query.where(sql<boolean>`(created_at, id) < (${createdAt}::timestamptz, ${id}::uuid)`);
    }
    const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(q.limit).execute();
    const out = rows.map(
      (r): ChartExportRow => ({
        id: r.id,
        createdAt: r.created_at.toISOString(),
        symbol: r.symbol,
        symbols: symbolsOf(r),
        interval: r.interval,
        renderer: r.renderer,
        format: r.format,
        width: r.width,
        height: r.height,
        synthetic: r.synthetic,
        status: r.status,
        analysesCount: r.analyses_count,
      }),
    );
    const last = rows.at(-1);
    return {
      rows: out,
      next: rows.length === q.limit && last ? { createdAt: last.cursor_at, id: last.id } : null,
    };
  }
}
