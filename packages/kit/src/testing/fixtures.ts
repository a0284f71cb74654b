import { ChartConfig, ChartGenerated, type Interval } from '@chartwright/contracts';
import { makeEvent } from '../events.js';

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
