import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  type AnalysisRequested,
  type AnalysisResult,
  type BarWindow,
  ChartConfig,
  type DataOf,
  type EventEnvelope,
  type TradingStyle,
} from '@chartwright/contracts';
import type { Delivery } from '@chartwright/kit';
import { type ChartSeries, MarketDataError, snapshot } from '@chartwright/market';
import { DownloadError, downloadToFile } from '@chartwright/safe-download';
import type { Updateable } from 'kysely';
import { BuiltinAnalyst } from './analyst/builtin.js';
import { analyseComparisonChart } from './analyst/comparison.js';
import { AnalystError } from './analyst/errors.js';
import { ground } from './analyst/grounding.js';
import type { ChartMediaType } from './analyst/types.js';
import type { AnalysisContext } from './context.js';
import { type ChartRow, FINAL } from './db/analyses.js';
import type { AnalysisTable } from './db/schema.js';
import type { AnalysisEvents } from './events.js';
import { chartSeries, readingsOf } from './market.js';
import { analysisDuration, modelCost, modelRequests, modelTokens } from './metrics.js';
import { tempImagePath } from './tempfiles.js';

/** A job failure: `retryable` ones are tried again (up to the bound), others fail the analysis. */
export class JobError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retryable = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'JobError';
  }
}

const MEDIA_TYPES: readonly ChartMediaType[] = [
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'image/svg+xml',
];
const EXTENSIONS: Record<ChartMediaType, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/gif': 'gif',
  'image/webp': 'webp',
  'image/svg+xml': 'svg',
};

function mediaTypeOf(contentType: string | null | undefined): ChartMediaType {
  const t = (contentType ?? '').split(';')[0]!.trim().toLowerCase() as ChartMediaType;
  return MEDIA_TYPES.includes(t) ? t : 'image/png';
}

/** Passes bytes through until `max`, then fails: a stream cannot outgrow the cap. */
function byteCap(max: number, what: string): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      seen += chunk.length;
      if (seen > max) cb(new JobError('IMAGE_TOO_LARGE', `${what} is larger than ${max} bytes`));
      else cb(null, chunk);
    },
  });
}

/** Why a failure happened, as code, reason and whether a later try may succeed. */
function classify(err: unknown, signal: AbortSignal, timeoutMs: number): JobError {
  if (err instanceof JobError) return err;
  if (err instanceof AnalystError) {
    const code = err.code === 'ABORTED' && signal.aborted ? 'TIMEOUT' : err.code;
    return new JobError(code, err.message, err.retryable || code === 'TIMEOUT', { cause: err });
  }
  if (err instanceof DownloadError) {
    const transient =
      err.code === 'TIMEOUT' ||
      err.code === 'NETWORK' ||
      err.code === 'DNS_FAILED' ||
      (err.code === 'BAD_STATUS' && (err.status ?? 0) >= 500);
    return new JobError('IMAGE_UNAVAILABLE', `cannot download the chart image: ${err.message}`, transient, {
      cause: err,
    });
  }
  if (signal.aborted) {
    return new JobError('TIMEOUT', `the analysis did not finish within ${timeoutMs} ms`, true, {
      cause: err,
    });
  }
  if (err instanceof MarketDataError) {
    return new JobError(
      'MARKET_DATA_UNAVAILABLE',
      `market data: ${err.message}`,
      err.code !== 'UNKNOWN_SYMBOL',
      {
        cause: err,
      },
    );
  }
  return new JobError('INTERNAL', `the analysis failed: ${(err as Error)?.message ?? String(err)}`, true, {
    cause: err,
  });
}

/** Runs one delivery of `analysis.requested`. Throws only to have it retried later. */
export class AnalysisWorker {
  /** Jobs running in this process, so a second delivery of the same one waits for it. */
  private readonly running = new Map<string, Promise<void>>();

  constructor(
    private readonly deps: AnalysisContext,
    private readonly events: AnalysisEvents,
  ) {}

  /**
   * A redelivery can reach this process while the first delivery still runs here (JetStream may
   * hand out a message again after a restart): it shares the running job's outcome instead of
   * calling the model a second time.
   */
  async handle(data: DataOf<typeof AnalysisRequested>, delivery: Delivery): Promise<void> {
    const current = this.running.get(data.analysisId);
    if (current) {
      const keepAlive = setInterval(
        () => delivery.working(),
        Math.max(100, Math.floor(this.deps.config.ackWaitMs / 3)),
      );
      try {
        return await current;
      } finally {
        clearInterval(keepAlive);
      }
    }
    const job = this.run(data, delivery);
    this.running.set(data.analysisId, job);
    try {
      await job;
    } finally {
      this.running.delete(data.analysisId);
    }
  }

  private async run(data: DataOf<typeof AnalysisRequested>, delivery: Delivery): Promise<void> {
    const { db, config, logger } = this.deps;
    const attempt = delivery.deliveryCount;
    // Claims the job, marks it downloading and reads its chart in one statement. No row: purged,
    // already finished by an earlier delivery (exactly one result per analysis), or no chart.
    // The step's time is the same in the row and in its event, so a replay shows what was streamed.
    const downloadingAt = new Date();
    const claimed = await db
      .updateTable('analyses')
      .from('known_charts')
      .set((eb) => ({
        attempts: attempt,
        status: 'downloading',
        claimed_at: downloadingAt,
        downloading_at: eb.fn.coalesce('analyses.downloading_at', eb.val(downloadingAt)),
      }))
      .whereRef('known_charts.chart_id', '=', 'analyses.chart_id')
      .where('analyses.id', '=', data.analysisId)
      .where('analyses.status', 'not in', FINAL)
      .returning([
        'analyses.id',
        'analyses.user_id',
        'analyses.prompt',
        'analyses.trading_style',
        'analyses.include_risk_management',
        'analyses.confidence_threshold',
        'known_charts.chart_id',
        'known_charts.user_id as chart_user_id',
        'known_charts.symbol',
        'known_charts.interval',
        'known_charts.object_key',
        'known_charts.external_url',
        'known_charts.config',
        'known_charts.deleted',
        'known_charts.synthetic',
        'known_charts.content_type',
        'known_charts.size',
        'known_charts.generated_at',
        'known_charts.bars',
      ])
      .executeTakeFirst();
    if (!claimed) {
      const unfinished = await db
        .selectFrom('analyses')
        .select('id')
        .where('id', '=', data.analysisId)
        .where('status', 'not in', FINAL)
        .executeTakeFirst();
      if (!unfinished) return;
      // Accepted on chart-service's word before its chart.generated got here (or it got here
      // between the claim and this read: a multi-timeframe run queues its analyses as its charts
      // are announced): retried until it has.
      if (attempt < config.maxAttempts)
        throw new JobError('CHART_NOT_FOUND', 'the chart is not known here yet', true);
      await this.fail(data, 'CHART_NOT_FOUND', 'the chart no longer exists');
      return;
    }
    const { chart_user_id, ...rest } = claimed;
    const row = rest;
    const chart: ChartRow = { ...rest, user_id: chart_user_id };
    this.events.progressed({
      analysisId: row.id,
      chartId: data.chartId,
      userId: data.userId,
      status: 'downloading',
      at: downloadingAt.toISOString(),
    });
    if (chart.deleted || chart.user_id !== row.user_id) {
      await this.fail(data, 'CHART_NOT_FOUND', 'the chart no longer exists');
      return;
    }

    const heartbeat = setInterval(() => delivery.working(), Math.max(100, Math.floor(config.ackWaitMs / 3)));
    const signal = AbortSignal.timeout(config.jobTimeoutMs);
    const started = performance.now();
    let file: string | undefined;
    let outcome: Awaited<ReturnType<AnalysisWorker['analyse']>> | undefined;
    let error: unknown;
    try {
      const mediaType = mediaTypeOf(chart.content_type);
      file = tempImagePath(config.tmpDir, row.id, EXTENSIONS[mediaType]);
      const fetchedType = await this.fetchImage(chart, file, signal);
      await this.setStatus(data, 'analysing');
      outcome = await this.analyse(chart, row, file, fetchedType, signal);
    } catch (err) {
      error = err;
    } finally {
      clearInterval(heartbeat);
      // Before the result is saved, so nobody who sees the result finds the file still there.
      if (file)
        await rm(file, { force: true }).catch((err) => logger.warn({ err, file }, 'temp file not removed'));
    }

    if (outcome) {
      const { result, model, tokensUsed, costUsd, bars } = outcome;
      analysisDuration().record((performance.now() - started) / 1000, { model, outcome: 'completed' });
      await this.complete(
        data,
        chart,
        { result, model, tokensUsed, costUsd, bars },
        performance.now() - started,
      );
      return;
    }
    const failure = classify(error, signal, config.jobTimeoutMs);
    if (failure.retryable && attempt < config.maxAttempts) {
      logger.warn(
        { analysisId: row.id, attempt, code: failure.code, reason: failure.message },
        'analysis attempt failed; will retry',
      );
      throw failure;
    }
    const reason =
      failure.retryable && attempt > 1
        ? `${failure.message} (gave up after ${attempt} attempts)`
        : failure.message;
    if (failure.code === 'INTERNAL') logger.error({ err: error, analysisId: row.id }, 'analysis failed');
    analysisDuration().record((performance.now() - started) / 1000, {
      model: this.deps.analyst.model,
      outcome: failure.code,
    });
    await this.fail(data, failure.code, reason);
  }

  private async fetchImage(chart: ChartRow, file: string, signal: AbortSignal): Promise<ChartMediaType> {
    const { objects, config } = this.deps;
    if (chart.object_key) {
      const obj = await objects.get(chart.object_key);
      if (!obj) {
        throw new JobError(
          'IMAGE_UNAVAILABLE',
          `the chart image ${chart.object_key} is not in storage`,
          true,
        );
      }
      if (obj.size > config.maxImageBytes) {
        obj.body.destroy();
        throw new JobError(
          'IMAGE_TOO_LARGE',
          `the chart image has ${obj.size} bytes, more than ${config.maxImageBytes}`,
        );
      }
      await pipeline(
        obj.body,
        byteCap(config.maxImageBytes, 'the chart image'),
        createWriteStream(file, { flags: 'wx', mode: 0o600 }),
        { signal },
      );
      return mediaTypeOf(obj.contentType ?? chart.content_type);
    }
    if (chart.external_url) {
      const got = await downloadToFile(chart.external_url, file, {
        allowedHosts: config.allowedHosts,
        maxBytes: config.maxImageBytes,
        contentTypes: MEDIA_TYPES,
        timeoutMs: Math.min(30_000, config.jobTimeoutMs),
        signal,
      });
      return mediaTypeOf(got.contentType);
    }
    throw new JobError('IMAGE_UNAVAILABLE', 'the chart has no stored image and no image URL');
  }

  private async analyse(
    chart: ChartRow,
    row: {
      id: string;
      prompt: string | null;
      trading_style: TradingStyle;
      include_risk_management: boolean;
      confidence_threshold: number | null;
    },
    file: string,
    mediaType: ChartMediaType,
    signal: AbortSignal,
  ) {
    const { analyst, market, logger } = this.deps;
    const config = ChartConfig.parse(chart.config);
    // A comparison chart is measured, not read: relative strength, correlation and beta.
    if (config.compare)
      return { ...(await analyseComparisonChart(market, chart, config, signal)), bars: chart.bars ?? null };
    let series: ChartSeries | undefined;
    try {
      series = await chartSeries(
        market,
        {
          symbol: chart.symbol,
          interval: config.interval,
          config,
          synthetic: chart.synthetic,
          generatedAt: chart.generated_at,
          bars: chart.bars,
        },
        signal,
      );
    } catch (err) {
      // A model can still read the image; the built-in analyst cannot work without data.
      if (analyst instanceof BuiltinAnalyst) throw err;
      logger.warn({ err, analysisId: row.id }, 'no market data for the readings');
    }
    const snap = series && series.bars.length > 0 ? snapshot(series.bars) : undefined;
    const answer = await this.callAnalyst(
      {
        imagePath: file,
        mediaType,
        symbol: chart.symbol,
        interval: chart.interval,
        tradingStyle: row.trading_style,
        userPrompt: row.prompt ?? undefined,
        includeRiskManagement: row.include_risk_management,
        readings: snap ? readingsOf(snap) : undefined,
        recentBars: series?.bars.slice(-20),
        bars: series?.bars,
        snapshot: snap,
        lastPrice: snap?.lastClose ?? undefined,
      },
      signal,
    );
    const result = ground(answer.output, {
      lastPrice: snap?.lastClose,
      atr: snap?.atr14 ?? undefined,
      confidenceThreshold: row.confidence_threshold ?? undefined,
    });
    if (series?.warning) result.warnings.push(series.warning);
    if (!series)
      result.warnings.push(
        'no market data was available: the numbers were not checked against the last price',
      );
    if (answer.repaired) result.warnings.push("the model's first answer was invalid and was repaired");
    return {
      result,
      model: answer.model,
      tokensUsed: answer.tokensUsed,
      costUsd: answer.costUsd,
      bars: series?.window ?? null,
    };
  }

  /** One analyst call, counted with its tokens and cost. */
  private async callAnalyst(...args: Parameters<AnalysisContext['analyst']['analyse']>) {
    const { analyst } = this.deps;
    try {
      const answer = await analyst.analyse(...args);
      modelRequests().add(1, { model: answer.model, outcome: 'ok' });
      modelTokens().add(answer.tokensUsed, { model: answer.model });
      if (answer.costUsd !== undefined) modelCost().add(answer.costUsd, { model: answer.model });
      return answer;
    } catch (err) {
      const code = err instanceof AnalystError ? err.code : 'INTERNAL';
      modelRequests().add(1, { model: analyst.model, outcome: code });
      throw err;
    }
  }

  private async setStatus(data: DataOf<typeof AnalysisRequested>, status: 'analysing'): Promise<void> {
    const at = new Date();
    const r = await this.deps.db
      .updateTable('analyses')
      .set((eb) => ({ status, analysing_at: eb.fn.coalesce('analysing_at', eb.val(at)) }))
      .where('id', '=', data.analysisId)
      .where('status', 'not in', FINAL)
      .executeTakeFirst();
    if (r.numUpdatedRows > 0n)
      this.events.progressed({
        analysisId: data.analysisId,
        chartId: data.chartId,
        userId: data.userId,
        status,
        at: at.toISOString(),
      });
  }

  private async complete(
    data: DataOf<typeof AnalysisRequested>,
    chart: ChartRow,
    answer: {
      result: AnalysisResult;
      model: string;
      tokensUsed: number;
      costUsd: number | undefined;
      /** The bars the analyst read, for outcome tracking. */
      bars: BarWindow | null;
    },
    elapsedMs: number,
  ): Promise<void> {
    const { result, model, tokensUsed, costUsd } = answer;
    const now = new Date();
    const processingMs = Math.round(elapsedMs);
    const event = this.events.completed({
      analysisId: data.analysisId,
      chartId: data.chartId,
      userId: data.userId,
      reservationId: data.reservationId,
      symbol: chart.symbol,
      interval: ChartConfig.parse(chart.config).interval,
      result,
      metadata: { model, tokensUsed, processingTime: processingMs / 1000 },
      completedAt: now.toISOString(),
      tradingStyle: data.tradingStyle,
      bars: answer.bars,
    });
    await this.finish(
      data.analysisId,
      {
        status: 'completed',
        result: JSON.stringify(result) as never,
        recommendation: result.recommendation,
        confidence: result.confidence,
        model,
        tokens_used: tokensUsed,
        cost_usd: costUsd ?? null,
        processing_ms: processingMs,
        completed_at: now,
      },
      event,
    );
  }

  async fail(data: DataOf<typeof AnalysisRequested>, code: string, reason: string): Promise<void> {
    const now = new Date();
    const event = this.events.failed({
      analysisId: data.analysisId,
      chartId: data.chartId,
      userId: data.userId,
      reservationId: data.reservationId,
      code,
      reason,
      failedAt: now.toISOString(),
    });
    await this.finish(
      data.analysisId,
      { status: 'failed', error_code: code, error_reason: reason, completed_at: now },
      event,
    );
  }

  /**
   * Saves the final state with its event, unless an earlier delivery already finished the
   * analysis (exactly one result), then sends the event.
   */
  private async finish(
    analysisId: string,
    changes: Updateable<AnalysisTable>,
    event: EventEnvelope,
  ): Promise<void> {
    await this.events.saveWith(
      this.deps.db,
      (qc) =>
        qc
          .updateTable('analyses')
          .set(changes)
          .where('id', '=', analysisId)
          .where('status', 'not in', FINAL)
          .returning('id'),
      event,
    );
  }
}
