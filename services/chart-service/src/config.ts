import { ConfigError, env, parseEnv } from '@chartwright/kit';
import { MarketDataEnv, marketDataConfig } from '@chartwright/market';
import { signingConfigFromEnv } from '@chartwright/object-store';
import { z } from 'zod';
import { ChartImgPlan } from './chart-img/plans.js';

const ChartEnv = z.object({
  ...MarketDataEnv,
  /** Render worker threads; default 2 (1 when embedded). */
  RENDER_POOL_SIZE: env.int(0, 0, 64),
  /** Renders waiting for a worker before new ones are refused (503). */
  RENDER_MAX_QUEUE: env.int(200, 1, 100_000),
  /** Makes chart-img.com the default renderer; without it only the built-in renderer runs. */
  CHART_IMG_API_KEY: z.string().min(1).optional(),
  CHART_IMG_BASE_URL: env.url().default('https://api.chart-img.com'),
  /** Your chart-img.com plan: its size, studies+drawings and rate limits are checked before sending. */
  CHART_IMG_PLAN: ChartImgPlan.default('BASIC'),
  /** chart-img.com requests a UTC day, counted across replicas; 0 means the plan's (BASIC 50 … ENTERPRISE 5,000). */
  CHART_IMG_DAILY_LIMIT: env.int(0, 0, 10_000_000),
  CHART_IMG_TIMEOUT_MS: env.int(30_000, 1_000, 120_000),
  /** Longest wait for chart-img.com's rate limit before a request is refused with 429. */
  CHART_IMG_MAX_QUEUE_MS: env.int(5_000, 0, 120_000),
  /** Lifetime of a generation's quota reservation (released earlier if generation fails). */
  CHART_RESERVATION_TTL_SECONDS: env.int(300, 10, 86_400),
  /** Timeout of calls to quota-service. */
  CHART_QUOTA_TIMEOUT_MS: env.int(5_000, 100, 60_000),
  /** Charts of one bulk request generated at once. */
  CHART_BULK_CONCURRENCY: env.int(4, 1, 50),
  /** Templates one user may keep. */
  CHART_MAX_TEMPLATES: env.int(100, 1, 10_000),
});

export function loadChartConfig(source: Record<string, string | undefined>, embedded: boolean) {
  const e = parseEnv(ChartEnv, source);
  const market = marketDataConfig(e);
  if (market.issues.length) throw new ConfigError(market.issues);
  return {
    market: market.config,
    render: { size: e.RENDER_POOL_SIZE || (embedded ? 1 : 2), maxQueue: e.RENDER_MAX_QUEUE, lazy: embedded },
    chartImg: {
      apiKey: e.CHART_IMG_API_KEY,
      baseUrl: e.CHART_IMG_BASE_URL,
      plan: e.CHART_IMG_PLAN,
      timeoutMs: e.CHART_IMG_TIMEOUT_MS,
      maxQueueMs: e.CHART_IMG_MAX_QUEUE_MS,
      perDay: e.CHART_IMG_DAILY_LIMIT,
    },
    signing: signingConfigFromEnv(source),
    reservationTtlSeconds: e.CHART_RESERVATION_TTL_SECONDS,
    quotaTimeoutMs: e.CHART_QUOTA_TIMEOUT_MS,
    bulkConcurrency: e.CHART_BULK_CONCURRENCY,
    maxTemplates: e.CHART_MAX_TEMPLATES,
  };
}
export type ChartServiceConfig = ReturnType<typeof loadChartConfig>;
