import { ChartConfig, ChartGenerated, type Interval } from '@chartwright/contracts';
import { type DatabaseTarget, openDatabase } from '../db/database.js';
import { makeEvent } from '../events.js';
import { eventually } from './index.js';

/** A `chart.generated` event for a built-in chart whose PNG is stored at `objectKey`, as chart-service announces it. */
export function chartGeneratedEvent(opts: {
  chartId: string;
  userId: string;
  objectKey: string;
  size: number;
  symbol?: string;
  interval?: Interval;
  range?: '1M' | '3M';
  source?: string;
}) {
  const symbol = opts.symbol ?? 'BINANCE:BTCUSDT';
  const interval = opts.interval ?? '4h';
  return makeEvent(
    ChartGenerated,
    {
      chartId: opts.chartId,
      userId: opts.userId,
      reservationId: null,
      symbol,
      interval,
      config: ChartConfig.parse({ symbol, interval, range: opts.range ?? '3M' }),
      renderer: 'builtin',
      objectKey: opts.objectKey,
      size: opts.size,
      sha256: '0'.repeat(64),
      contentType: 'image/png',
      externalUrl: null,
      format: 'png',
      width: 1200,
      height: 675,
      synthetic: true,
      generatedAt: new Date().toISOString(),
      expiresAt: null,
    },
    { source: opts.source ?? 'test', subject: opts.chartId },
  );
}

/**
 * Waits until analysis-service has applied a `chart.generated`, as it has after a real generation
 * (its answer reaches the client after the event). Tests that announce charts themselves, with
 * no chart-service to ask, call it before analysing.
 */
export async function chartKnownToAnalysis(database: DatabaseTarget, chartId: string): Promise<void> {
  const db = openDatabase<{ known_charts: { chart_id: string } }>(database, 'analysis');
  try {
    await eventually(
      async () =>
        (await db.db
          .selectFrom('known_charts')
          .select('chart_id')
          .where('chart_id', '=', chartId)
          .executeTakeFirst()) !== undefined,
    );
  } finally {
    await db.destroy();
  }
}
