import { createHash } from 'node:crypto';
import {
  type BarWindow,
  type BulkGenerateResponse,
  type BulkItemResult,
  ChartConfig,
  type ChartDetail,
  type ChartGenerated,
  type ChartGenerateSet,
  type ChartImageRef,
  type ChartListItem,
  type ChartListQuery,
  type ChartListResponse,
  type ChartTemplate,
  type CompareChartsRequest,
  type CreateTemplateRequest,
  GenerateChartRequest,
  type GenerateChartResponse,
  QuotaGet,
  QuotaRelease,
  QuotaReserve,
  type QuotaSnapshot,
  type TemplateListQuery,
  type TemplateListResponse,
} from '@chartwright/contracts';
import { applyOnce, callRpc, failpoint, newId, ServiceError, secondsSince } from '@chartwright/kit';
import { type ChartSeries, MarketDataError, resolveDrawing, resolveStudy } from '@chartwright/market';
import { chartObjectKey, signObjectUrl } from '@chartwright/object-store';
import { type Selectable, type SelectQueryBuilder, sql } from 'kysely';
import type { z } from 'zod';
import { catalogueToServiceError } from './chart-img/index.js';
import type { ChartContext } from './context.js';
import type { ChartDb, ChartTable, TemplateTable } from './db/schema.js';
import type { ChartEvents } from './events.js';
import { marketError } from './market.js';
import { renderDuration } from './metrics.js';
import {
  alignSeries,
  type CompareSeries,
  MIN_SHARED_BARS,
  PoolBusyError,
  RenderError,
} from './render/index.js';

/** The inbox key of the consumer that counts a chart's analyses. */
export const ANALYSES_CONSUMER = 'chart-analyses';
export const QUOTA_EXCEEDED_MESSAGE =
  'Monthly chart generation limit reached. Upgrade your plan to continue.';

type ChartRow = Selectable<ChartTable>;

/** A chart config checked, its renderer chosen and its bars on the way. */
interface Prepared {
  config: ChartConfig;
  renderer: 'builtin' | 'chart-img';
  chartImgBody: ReturnType<NonNullable<ChartContext['chartImg']>['prepare']> | undefined;
  bars: Promise<{ first: ChartSeries; aligned?: CompareSeries[] } | undefined>;
  generatedAt: Date;
}

/** A chart drawn and its image stored: the row and event still to save. */
interface Made {
  row: ChartRow;
  generated: ReturnType<ChartEvents['generated']>;
  warnings: string[];
}

/** A row as the insert takes it (JSON columns as text). */
const rowValues = (row: ChartRow) => ({
  ...row,
  config: JSON.stringify(row.config) as never,
  bars: row.bars && (JSON.stringify(row.bars) as never),
});
type TemplateRow = Selectable<TemplateTable>;

const notFound = () => new ServiceError('NOT_FOUND', 'Chart not found');
const templateNotFound = () => new ServiceError('NOT_FOUND', 'Template not found');

/** zod issues as a VALIDATION_ERROR whose message and details name each field. */
function invalidFields(issues: readonly z.core.$ZodIssue[], prefix = ''): ServiceError {
  const details = issues.map((i) => ({
    field: [prefix, ...i.path.map(String)].filter(Boolean).join('.') || '(body)',
    message: i.message,
  }));
  return new ServiceError(
    'VALIDATION_ERROR',
    `invalid chart: ${details.map((d) => `${d.field} ${d.message}`).join('; ')}`,
    details,
  );
}

export const quotaCounter = (q: QuotaSnapshot) => ({
  used: q.charts.used,
  limit: q.charts.limit,
  remaining: q.charts.limit === null ? null : Math.max(0, q.charts.limit - q.charts.used),
});

/** LIKE pattern matching `text` anywhere, with the wildcards in `text` taken literally. */
const containsPattern = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** A chart's symbol, or any symbol of a comparison, contains `text`. */
export const symbolMatches = (text: string) =>
  sql<boolean>`(symbol ilike ${containsPattern(text)} escape '\\' or coalesce(config->'compare'->>'symbols', '') ilike ${containsPattern(text)} escape '\\')`;

/** Every symbol a chart shows. */
export const symbolsOf = (row: { symbol: string; config: unknown }): string[] =>
  (row.config as Partial<ChartConfig> | null)?.compare?.symbols ?? [row.symbol];

/**
 * The chart-service's use cases: generate (quota, market data, render, store, save with its event),
 * list, get, delete, bulk and templates. Every query is filtered by the caller's user id.
 */
export class Charts {
  constructor(
    private readonly d: ChartContext,
    private readonly events: ChartEvents,
  ) {}

  // ---- generate ------------------------------------------------------------------------------

  /** The config a request stands for: its own fields, or a template's config with them on top. */
  async resolveConfig(userId: string, raw: unknown): Promise<ChartConfig> {
    const parsed = GenerateChartRequest.safeParse(raw);
    if (!parsed.success) throw invalidFields(parsed.error.issues);
    const { templateId, ...fields } = parsed.data;
    let merged: Record<string, unknown> = fields;
    if (templateId) {
      const t = await this.d.db
        .selectFrom('templates')
        .select('config')
        .where('id', '=', templateId)
        .where('user_id', '=', userId)
        .executeTakeFirst();
      if (!t) throw templateNotFound();
      const overrides = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
      merged = { ...(t.config as object), ...overrides };
    }
    const config = ChartConfig.safeParse(merged);
    if (!config.success) throw invalidFields(config.error.issues);
    return config.data;
  }

  #renderer(config: ChartConfig): 'builtin' | 'chart-img' {
    if (config.compare) {
      if (config.renderer === 'chart-img') {
        const message = 'Comparison charts are drawn by the built-in renderer; use renderer "builtin"';
        throw new ServiceError('VALIDATION_ERROR', message, [{ field: 'renderer', message }]);
      }
      return 'builtin';
    }
    const renderer = config.renderer ?? (this.d.chartImg ? 'chart-img' : 'builtin');
    if (renderer === 'chart-img' && !this.d.chartImg) {
      const message = 'The chart-img renderer is not configured on this server; use renderer "builtin"';
      throw new ServiceError('VALIDATION_ERROR', message, [{ field: 'renderer', message }]);
    }
    if (renderer === 'chart-img' && config.end !== undefined) {
      const message = 'end (a historical chart) needs the built-in renderer: set renderer "builtin"';
      throw new ServiceError('VALIDATION_ERROR', message, [{ field: 'end', message }]);
    }
    return renderer;
  }

  /** Checks every study and drawing before any quota is used. */
  #validateBuiltin(config: ChartConfig): void {
    config.studies.forEach((s, i) => {
      try {
        resolveStudy(s);
      } catch (err) {
        throw catalogueToServiceError(err, `studies.${i}`);
      }
    });
    config.drawings.forEach((dr, i) => {
      try {
        resolveDrawing(dr);
      } catch (err) {
        throw catalogueToServiceError(err, `drawings.${i}`);
      }
    });
  }

  /**
   * With `idempotencyKey`: a chart already made under that key is answered instead (charged
   * once); the key is stored with the chart in its transaction, so two attempts racing make one.
   */
  async generate(userId: string, raw: unknown, idempotencyKey?: string): Promise<GenerateChartResponse> {
    if (idempotencyKey) {
      const made = await this.#byKey(userId, idempotencyKey);
      if (made) return this.#answer(made);
    }
    const config = await this.resolveConfig(userId, raw);
    return this.#make(userId, config, idempotencyKey);
  }

  /** A comparison chart of 2 to 4 symbols: one chart, drawn by the built-in renderer. */
  async compare(
    userId: string,
    req: CompareChartsRequest,
    idempotencyKey?: string,
  ): Promise<GenerateChartResponse> {
    if (idempotencyKey) {
      const made = await this.#byKey(userId, idempotencyKey);
      if (made) return this.#answer(made);
    }
    const { symbols, layout, ...rest } = req;
    const config = ChartConfig.safeParse({
      ...Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)),
      symbol: symbols[0],
      renderer: 'builtin',
      compare: { symbols, layout },
    });
    if (!config.success) throw invalidFields(config.error.issues);
    return this.#make(userId, config.data, idempotencyKey);
  }

  /** Bars of every symbol of a comparison, aligned on the times they share; 400 naming what fails. */
  async #compareSeries(
    config: ChartConfig,
    at: Date,
  ): Promise<{ first: ChartSeries; aligned: CompareSeries[] }> {
    const symbols = config.compare!.symbols;
    const all = await Promise.all(
      symbols.map((symbol, i) =>
        this.d.market.forChart({ ...config, symbol }, at).catch((err) => {
          const e = marketError(err);
          if (e instanceof ServiceError && e.code === 'VALIDATION_ERROR' && err instanceof MarketDataError)
            throw new ServiceError('VALIDATION_ERROR', `Unknown symbol ${symbol}: ${err.message}`, [
              { field: `symbols.${i}`, message: `unknown symbol ${symbol}` },
            ]);
          throw e;
        }),
      ),
    );
    const visible = all.map((s, i) => ({
      symbol: symbols[i]!,
      bars: s.bars.slice(s.bars.length - s.visible),
    }));
    const aligned = alignSeries(visible);
    if ((aligned[0]?.bars.length ?? 0) < MIN_SHARED_BARS) {
      const spans = visible
        .map((s) =>
          s.bars.length
            ? `${s.symbol} ${new Date(s.bars[0]!.time).toISOString()}–${new Date(s.bars.at(-1)!.time).toISOString()}`
            : `${s.symbol} has no bars`,
        )
        .join('; ');
      const message = `The symbols' bars do not overlap in time at interval ${config.interval} (${spans})`;
      throw new ServiceError('VALIDATION_ERROR', message, [{ field: 'symbols', message }]);
    }
    return { first: all[0]!, aligned };
  }

  async #make(userId: string, config: ChartConfig, idempotencyKey?: string): Promise<GenerateChartResponse> {
    const generatedAt = this.d.clock.now();
    const prepared = this.#prepare(config, generatedAt);
    const reservationId = newId();
    const quota = await this.#reserve(userId, 1, reservationId);
    let uploadedKey: string | undefined;
    try {
      const made = await this.#produce(userId, prepared, reservationId, idempotencyKey, (key) => {
        uploadedKey = key;
      });
      await this.events.saveWith(
        this.d.db,
        (qc) => qc.insertInto('charts').values(rowValues(made.row)).returning('id'),
        made.generated,
      );
      return this.#madeAnswer(made, quota);
    } catch (err) {
      await this.#undo(reservationId, uploadedKey ? [uploadedKey] : []);
      // Another attempt of the same request made the chart first: that one is the answer.
      if (idempotencyKey && (err as { code?: unknown }).code === '23505') {
        const made = await this.#byKey(userId, idempotencyKey);
        if (made) return this.#answer(made);
      }
      throw err;
    }
  }

  /**
   * Charts made together or not at all (a multi-timeframe run's): one reservation covers them
   * all, every chart is drawn, then all are saved with their `chart.generated` in one transaction.
   * A failure before the commit releases the reservation and removes the uploaded images, so no
   * chart is left and no quota is used. Chart i of a keyed set runs under `${idempotencyKey}:${i}`.
   */
  async generateSet(
    userId: string,
    requests: readonly unknown[],
    idempotencyKey?: string,
  ): Promise<z.input<typeof ChartGenerateSet.response>> {
    const keyOf = (i: number) => (idempotencyKey ? `${idempotencyKey}:${i}` : undefined);
    if (idempotencyKey) {
      const before = await this.#setByKeys(userId, requests.length, idempotencyKey);
      if (before) return before;
    }
    const configs: ChartConfig[] = [];
    for (const [i, raw] of requests.entries()) {
      try {
        configs.push(await this.resolveConfig(userId, raw));
      } catch (err) {
        // Name the item: `requests.1.interval`.
        if (err instanceof ServiceError && Array.isArray(err.details))
          throw new ServiceError(
            err.code,
            err.message,
            err.details.map((d: { field: string }) => ({ ...d, field: `requests.${i}.${d.field}` })),
          );
        throw err;
      }
    }
    const generatedAt = this.d.clock.now();
    const prepared = configs.map((config) => this.#prepare(config, generatedAt));
    const reservationId = newId();
    const quota = await this.#reserve(userId, configs.length, reservationId);
    const uploaded: string[] = [];
    try {
      const made: Made[] = [];
      // One at a time: the render pool is shared with every other request.
      for (const [i, p] of prepared.entries())
        made.push(await this.#produce(userId, p, reservationId, keyOf(i), (key) => uploaded.push(key)));
      await this.d.db.transaction().execute(async (trx) => {
        for (const m of made) {
          await trx.insertInto('charts').values(rowValues(m.row)).execute();
          await this.events.store(trx, m.generated);
        }
      });
      this.events.send(made.map((m) => m.generated));
      return {
        charts: made.map((m) => this.#madeAnswer(m, quota)),
        generated: made.map((m) => m.generated.data),
      };
    } catch (err) {
      await this.#undo(reservationId, uploaded);
      if (idempotencyKey && (err as { code?: unknown }).code === '23505') {
        const before = await this.#setByKeys(userId, requests.length, idempotencyKey);
        if (before) return before;
      }
      throw err;
    }
  }

  /** The set an earlier attempt under the same key made, if it made all of it. */
  async #setByKeys(userId: string, n: number, idempotencyKey: string) {
    const rows = await Promise.all(
      Array.from({ length: n }, (_, i) => this.#byKey(userId, `${idempotencyKey}:${i}`)),
    );
    if (!rows.every((r): r is ChartRow => r !== undefined)) return undefined;
    return { charts: await Promise.all(rows.map((r) => this.#answer(r))), generated: [] };
  }

  /** Reserves `amount` charts; QUOTA_EXCEEDED when the quota cannot cover them all. */
  async #reserve(userId: string, amount: number, reservationId: string) {
    const reserved = await callRpc(
      this.d.bus,
      QuotaReserve,
      { userId, kind: 'charts', amount, reservationId, ttlSeconds: this.d.config.reservationTtlSeconds },
      { timeoutMs: this.d.config.quotaTimeoutMs },
    );
    const quota = quotaCounter(reserved.quota);
    if (!reserved.granted) throw new ServiceError('QUOTA_EXCEEDED', QUOTA_EXCEEDED_MESSAGE, { quota });
    return quota;
  }

  /** Checks a config and starts fetching its bars, which do not depend on the quota. */
  #prepare(config: ChartConfig, generatedAt: Date): Prepared {
    const renderer = this.#renderer(config);
    const chartImgBody = renderer === 'chart-img' ? this.d.chartImg!.prepare(config) : undefined;
    if (renderer === 'builtin') this.#validateBuiltin(config);
    const bars: Prepared['bars'] =
      renderer !== 'builtin'
        ? Promise.resolve(undefined)
        : config.compare
          ? this.#compareSeries(config, generatedAt)
          : this.d.market.forChart(config, generatedAt).then(
              (first) => ({ first }),
              (err) => {
                throw marketError(err);
              },
            );
    bars.catch(() => undefined);
    return { config, renderer, chartImgBody, bars, generatedAt };
  }

  /** Draws and stores the image; the row and its `chart.generated` are the caller's to save. */
  async #produce(
    userId: string,
    p: Prepared,
    reservationId: string,
    idempotencyKey: string | undefined,
    onUpload: (key: string) => void,
  ): Promise<Made> {
    const { config, renderer, generatedAt } = p;
    const chartId = newId();
    let row: ChartRow;
    let warnings: string[] = [];
    /** Where the image is, as `chart.generated` tells it. */
    let image: Pick<
      z.input<typeof ChartGenerated.data>,
      'objectKey' | 'size' | 'sha256' | 'contentType' | 'externalUrl' | 'format' | 'expiresAt' | 'bars'
    >;
    const base = {
      id: chartId,
      user_id: userId,
      symbol: config.symbol,
      interval: config.interval,
      range: config.range ?? null,
      theme: config.theme,
      config,
      renderer,
      format: config.format,
      width: config.width,
      height: config.height,
      analyses_count: 0,
      created_at: generatedAt,
      idempotency_key: idempotencyKey ?? null,
    };
    if (renderer === 'builtin') {
      const { first: series, aligned } = (await p.bars)!;
      const renderStart = performance.now();
      const rendered = await this.d.pool
        .render({
          config,
          bars: series.bars,
          synthetic: series.synthetic,
          visibleBars: series.visible,
          compare: aligned,
        })
        .then((r) => {
          renderDuration().record(secondsSince(renderStart), { renderer, format: config.format });
          return r;
        })
        .catch((err) => {
          if (err instanceof PoolBusyError) throw new ServiceError('SERVICE_UNAVAILABLE', err.message);
          if (err instanceof RenderError)
            throw new ServiceError('VALIDATION_ERROR', err.message, [
              { field: 'width', message: err.message },
            ]);
          throw err;
        });
      // The market data's own (a fallback to synthetic bars, skipped rows) first.
      warnings = [...series.warnings, ...rendered.warnings];
      const key = chartObjectKey(userId, chartId, config.format);
      const sha256 = createHash('sha256').update(rendered.data).digest('hex');
      await this.d.objects.put(key, rendered.data, rendered.contentType);
      onUpload(key);
      failpoint('chart.generate.after-upload');
      row = {
        ...base,
        object_key: key,
        external_url: null,
        // The image is in our storage already: nothing is left to copy.
        status: 'stored',
        synthetic: series.synthetic,
        expires_at: null,
        bars: series.window,
      };
      image = {
        objectKey: key,
        size: rendered.data.length,
        sha256,
        contentType: rendered.contentType,
        externalUrl: null,
        format: config.format,
        expiresAt: null,
        bars: series.window satisfies BarWindow,
      };
    } else {
      const renderStart = performance.now();
      const stored = await this.d.chartImg!.store(p.chartImgBody!);
      renderDuration().record(secondsSince(renderStart), { renderer, format: config.format });
      row = {
        ...base,
        object_key: null,
        external_url: stored.url,
        status: 'ready',
        synthetic: false,
        expires_at: stored.expiresAt,
        bars: null,
      };
      image = {
        objectKey: null,
        size: null,
        sha256: null,
        contentType: stored.contentType,
        externalUrl: stored.url,
        format: 'png',
        expiresAt: stored.expiresAt?.toISOString() ?? null,
        bars: null,
      };
    }
    const generated = this.events.generated({
      chartId,
      userId,
      reservationId,
      symbol: config.symbol,
      interval: config.interval,
      config,
      renderer,
      width: config.width,
      height: config.height,
      synthetic: row.synthetic,
      generatedAt: generatedAt.toISOString(),
      ...image,
    });
    return { row, generated, warnings };
  }

  /** The generate answer for a chart row; its link is signed as of `now`. */
  #madeAnswer(
    { row, warnings }: Pick<Made, 'row' | 'warnings'>,
    quota: ReturnType<typeof quotaCounter>,
    now: Date = row.created_at,
  ): GenerateChartResponse {
    const link = this.#link(row, now);
    return {
      chartId: row.id,
      url: link.url,
      metadata: {
        format: row.format === 'svg' ? 'SVG' : 'PNG',
        resolution: `${row.width}x${row.height}`,
        generatedAt: row.created_at.toISOString(),
        expiresAt: link.expiresAt,
        renderer: row.renderer,
        synthetic: row.synthetic,
        ...(symbolsOf(row).length > 1 ? { symbols: symbolsOf(row) } : {}),
      },
      quota,
      ...(warnings.length ? { warnings } : {}),
    };
  }

  #byKey(userId: string, idempotencyKey: string): Promise<ChartRow | undefined> {
    return this.d.db
      .selectFrom('charts')
      .selectAll()
      .where('user_id', '=', userId)
      .where('idempotency_key', '=', idempotencyKey)
      .executeTakeFirst();
  }

  /** The answer for a chart made earlier, in the shape generation gives, with today's quota. */
  async #answer(row: ChartRow): Promise<GenerateChartResponse> {
    const snapshot = await callRpc(
      this.d.bus,
      QuotaGet,
      { userId: row.user_id },
      { timeoutMs: this.d.config.quotaTimeoutMs },
    );
    return this.#madeAnswer({ row, warnings: [] }, quotaCounter(snapshot), new Date());
  }

  /** Gives the reservation back and removes uploaded images; the TTL sweep covers a failure here. */
  async #undo(reservationId: string, keys: readonly string[]): Promise<void> {
    await Promise.all([
      callRpc(this.d.bus, QuotaRelease, { reservationId }, { timeoutMs: this.d.config.quotaTimeoutMs }).catch(
        (err) => this.d.logger.warn({ err, reservationId }, 'could not release a chart reservation'),
      ),
      ...keys.map((key) =>
        this.d.objects
          .delete(key)
          .catch((err) => this.d.logger.warn({ err, key }, 'could not remove an orphaned chart image')),
      ),
    ]);
  }

  /** Item i runs under the key `${idempotencyKey}:${i}`. */
  async bulk(
    userId: string,
    requests: readonly unknown[],
    idempotencyKey?: string,
  ): Promise<BulkGenerateResponse> {
    const results: BulkItemResult[] = new Array(requests.length);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < requests.length; i = next++) {
        try {
          const key = idempotencyKey ? `${idempotencyKey}:${i}` : undefined;
          results[i] = { index: i, success: true, chart: await this.generate(userId, requests[i], key) };
        } catch (err) {
          results[i] = { index: i, success: false, error: this.#itemError(err) };
        }
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(this.d.config.bulkConcurrency, requests.length) }, worker),
    );
    const succeeded = results.filter((r) => r.success).length;
    const quota = await callRpc(this.d.bus, QuotaGet, { userId }, { timeoutMs: this.d.config.quotaTimeoutMs })
      .then(quotaCounter)
      .catch(() => null);
    return {
      results,
      summary: { requested: requests.length, succeeded, failed: requests.length - succeeded },
      quota,
    };
  }

  #itemError(err: unknown): { code: string; message: string; details?: unknown } {
    if (err instanceof ServiceError)
      return err.details === undefined
        ? { code: err.code, message: err.message }
        : { code: err.code, message: err.message, details: err.details };
    this.d.logger.error({ err }, 'bulk chart item failed');
    return { code: 'INTERNAL', message: 'internal error' };
  }

  // ---- read ----------------------------------------------------------------------------------

  /** The image link for a chart: signed and expiring when the image is ours, else chart-img.com's. */
  #link(row: ChartRow, now = new Date()): { url: string; expiresAt: string | null } {
    const s = this.d.config.signing;
    if (row.object_key) {
      const url = signObjectUrl({
        publicUrl: s.publicUrl,
        key: row.object_key,
        ttlSeconds: s.ttlSeconds,
        secret: s.secret,
        now,
      });
      const expires = (Math.floor(now.getTime() / 1000) + s.ttlSeconds) * 1000;
      return { url, expiresAt: new Date(expires).toISOString() };
    }
    return { url: row.external_url ?? '', expiresAt: row.expires_at?.toISOString() ?? null };
  }

  /** A chart-img.com link that was never copied to our storage expires with it. */
  #status(row: ChartRow, now: Date): ChartListItem['status'] {
    if (row.status === 'stored') return 'stored';
    if (!row.object_key && row.expires_at && row.expires_at <= now) return 'expired';
    return 'ready';
  }

  #item(row: ChartRow, now: Date): ChartListItem {
    const link = this.#link(row, now);
    return {
      id: row.id,
      symbol: row.symbol,
      symbols: symbolsOf(row),
      interval: row.interval,
      url: link.url,
      status: this.#status(row, now),
      renderer: row.renderer,
      synthetic: row.synthetic,
      createdAt: row.created_at.toISOString(),
      expiresAt: link.expiresAt,
      analysesCount: row.analyses_count,
    };
  }

  async list(userId: string, q: ChartListQuery): Promise<ChartListResponse> {
    const now = new Date();
    let query = this.d.db.selectFrom('charts').where('user_id', '=', userId);
    if (q.symbol) query = query.where(symbolMatches(q.symbol));
    if (q.status === 'stored') query = query.where('status', '=', 'stored');
    else if (q.status === 'ready')
      query = query
        .where('status', '=', 'ready')
        .where((eb) =>
          eb.or([eb('object_key', 'is not', null), eb('expires_at', 'is', null), eb('expires_at', '>', now)]),
        );
    else if (q.status === 'expired')
      query = query
        .where('status', '!=', 'stored')
        .where('object_key', 'is', null)
        .where('expires_at', '<=', now);
    const { rows, pagination } = await newestFirst(query, q);
    return { charts: rows.map((r) => this.#item(r, now)), pagination };
  }

  /** The caller's chart row; NOT_FOUND for another user's. */
  async row(userId: string, chartId: string): Promise<ChartRow> {
    const row = await this.d.db
      .selectFrom('charts')
      .selectAll()
      .where('id', '=', chartId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (!row) throw notFound();
    return row;
  }

  async get(userId: string, chartId: string): Promise<{ chart: ChartDetail; image: ChartImageRef }> {
    const row = await this.row(userId, chartId);
    const now = new Date();
    const s = this.d.config.signing;
    return {
      chart: {
        ...this.#item(row, now),
        range: row.range,
        config: row.config,
        format: row.format,
        width: row.width,
        height: row.height,
        permanentUrl: row.object_key ? `${s.publicUrl}/v1/charts/${row.id}/image` : null,
      },
      image: {
        objectKey: row.object_key,
        externalUrl: row.external_url,
        contentType: row.format === 'svg' ? 'image/svg+xml' : 'image/png',
      },
    };
  }

  // ---- delete --------------------------------------------------------------------------------

  /**
   * Deletes the chart's row with `chart.deleted` in one transaction; analysis- and storage-service
   * remove its analyses, records and images on that event. The image this service rendered is
   * removed at once, so its signed link stops working when the DELETE returns.
   */
  async delete(userId: string, chartId: string): Promise<void> {
    const event = await this.d.db.transaction().execute(async (trx) => {
      const r = await trx
        .deleteFrom('charts')
        .where('id', '=', chartId)
        .where('user_id', '=', userId)
        .returning('object_key')
        .executeTakeFirst();
      if (!r) return undefined;
      const deleted = this.events.deleted({
        chartId,
        userId,
        objectKeys: r.object_key ? [r.object_key] : [],
      });
      await this.events.store(trx, deleted);
      return { deleted, objectKey: r.object_key };
    });
    if (!event) throw notFound();
    this.events.send([event.deleted]);
    if (event.objectKey)
      await this.d.objects
        .delete(event.objectKey)
        .catch((err) =>
          this.d.logger.warn(
            { err, chartId },
            'chart image not removed now; storage-service removes it on chart.deleted',
          ),
        );
  }

  // ---- events --------------------------------------------------------------------------------

  /** `analysis.completed`: one more analysis of the chart (once per event). */
  async analysisCompleted(eventId: string, chartId: string, userId: string): Promise<void> {
    await applyOnce(this.d.db, ANALYSES_CONSUMER, eventId, async (trx) => {
      await trx
        .updateTable('charts')
        .set((eb) => ({ analyses_count: eb('analyses_count', '+', 1) }))
        .where('id', '=', chartId)
        .where('user_id', '=', userId)
        .execute();
    });
  }

  /** `chart.stored`: storage-service copied or recorded the image: it is ours for good. */
  async markStored(chartId: string, userId: string, objectKey: string): Promise<void> {
    await this.d.db
      .updateTable('charts')
      .set({ status: 'stored', object_key: objectKey })
      .where('id', '=', chartId)
      .where('user_id', '=', userId)
      .execute();
  }

  // ---- templates -----------------------------------------------------------------------------

  #template(t: TemplateRow): ChartTemplate {
    return {
      id: t.id,
      name: t.name,
      config: t.config as ChartConfig,
      createdAt: t.created_at.toISOString(),
      updatedAt: t.updated_at.toISOString(),
    };
  }

  async createTemplate(userId: string, req: CreateTemplateRequest): Promise<ChartTemplate> {
    const count = await this.d.db
      .selectFrom('templates')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('user_id', '=', userId)
      .executeTakeFirstOrThrow();
    if (Number(count.n) >= this.d.config.maxTemplates)
      throw new ServiceError('CONFLICT', `at most ${this.d.config.maxTemplates} templates per user`);
    const config = ChartConfig.parse(req.config);
    const row = await this.d.db
      .insertInto('templates')
      .values({ id: newId(), user_id: userId, name: req.name, config: JSON.stringify(config) as never })
      .onConflict((oc) => oc.columns(['user_id', 'name']).doNothing())
      .returningAll()
      .executeTakeFirst();
    if (!row) throw new ServiceError('CONFLICT', `A template named "${req.name}" already exists`);
    return this.#template(row);
  }

  async listTemplates(userId: string, q: TemplateListQuery): Promise<TemplateListResponse> {
    const base = this.d.db.selectFrom('templates').where('user_id', '=', userId);
    const { rows, pagination } = await newestFirst(base, q);
    return { templates: rows.map((t) => this.#template(t)), pagination };
  }

  async getTemplate(userId: string, templateId: string): Promise<ChartTemplate> {
    const row = await this.d.db
      .selectFrom('templates')
      .selectAll()
      .where('id', '=', templateId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (!row) throw templateNotFound();
    return this.#template(row);
  }

  async deleteTemplate(userId: string, templateId: string): Promise<void> {
    const r = await this.d.db
      .deleteFrom('templates')
      .where('id', '=', templateId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw templateNotFound();
  }
}

/** A query before its `select`: no columns chosen yet. */
type NoColumns = Record<never, never>;

/** One page of a user's charts or templates, newest first, with its pagination block. */
async function newestFirst<T extends 'charts' | 'templates'>(
  query: SelectQueryBuilder<ChartDb, T, NoColumns>,
  page: { limit: number; offset: number },
): Promise<{
  rows: Selectable<ChartDb[T]>[];
  pagination: { total: number; limit: number; offset: number; hasMore: boolean };
}> {
  // Both tables have these columns; the generic table type cannot show it.
  const q = query as unknown as SelectQueryBuilder<ChartDb, 'charts', NoColumns>;
  const [rows, count] = await Promise.all([
    q
      .selectAll()
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(page.limit)
      .offset(page.offset)
      .execute(),
    q.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  const total = Number(count.n);
  return {
    rows: rows as unknown as Selectable<ChartDb[T]>[],
    pagination: { ...page, total, hasMore: page.offset + rows.length < total },
  };
}
