import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, env, parseEnv } from '@chartwright/kit';
import { MarketDataEnv, marketDataConfig } from '@chartwright/market';
import { z } from 'zod';

const msList = z
  .string()
  .regex(/^\d+(,\d+)*$/, 'comma-separated milliseconds, e.g. 1000,5000,15000')
  .transform((s) => s.split(',').map(Number));

const AnalysisEnv = z.object({
  /** Jobs one process runs at once. */
  ANALYSIS_CONCURRENCY: env.int(4, 1, 256),
  /** Where chart images are downloaded to while analysed; swept at start-up. */
  ANALYSIS_TMP_DIR: z.string().min(1).default(path.join(tmpdir(), 'chartwright-analysis')),
  /** Largest chart image fetched. */
  ANALYSIS_MAX_IMAGE_BYTES: env.int(10 * 1024 * 1024, 1024, 100 * 1024 * 1024),
  /** A job not heard from for this long is redelivered (a live job sends heartbeats). */
  ANALYSIS_ACK_WAIT_MS: env.int(30_000, 500, 600_000),
  /** Tries of one analysis on transient analyst errors before it fails. */
  ANALYSIS_MAX_ATTEMPTS: env.int(4, 1, 20),
  /** Wait before retry n+1 after a transient error (the last value repeats). */
  ANALYSIS_RETRY_BACKOFF_MS: msList.default([2_000, 10_000, 30_000]),
  /** Deadline of one attempt: download, market data and the analyst. */
  ANALYSIS_JOB_TIMEOUT_MS: env.int(240_000, 1_000, 3_600_000),
  /** How often unfinished analyses nobody works on any more are looked for (and failed). */
  ANALYSIS_SWEEP_INTERVAL_MS: env.int(30_000, 50, 3_600_000),
  /** Lifetime of the quota reservation; retries and queueing must fit in it. */
  ANALYSIS_RESERVATION_TTL_SECONDS: env.int(3_600, 60, 86_400),
  /** Hosts an external chart image may be downloaded from (comma separated, `*.suffix` allowed). */
  ANALYSIS_DOWNLOAD_ALLOWED_HOSTS: z.string().default('r2.chart-img.com'),
  /** A backtest worker's claim on a job; a crashed worker's job is taken over once it lapses. */
  BACKTEST_LEASE_MS: env.int(30_000, 1_000, 3_600_000),
  /** Backtests one process runs at once. */
  BACKTEST_CONCURRENCY: env.int(2, 1, 64),
  /** How often idle backtest workers look for queued jobs and lapsed leases. */
  BACKTEST_POLL_MS: env.int(2_000, 50, 600_000),
  /** Market data for charts without a bar window (chart-img.com's): the same setup as chart-service. */
  ...MarketDataEnv,
});

export function loadAnalysisConfig(source: Record<string, string | undefined>) {
  const e = parseEnv(AnalysisEnv, source);
  const market = marketDataConfig(e);
  if (market.issues.length) throw new ConfigError(market.issues);
  return {
    concurrency: e.ANALYSIS_CONCURRENCY,
    tmpDir: path.resolve(e.ANALYSIS_TMP_DIR),
    maxImageBytes: e.ANALYSIS_MAX_IMAGE_BYTES,
    ackWaitMs: e.ANALYSIS_ACK_WAIT_MS,
    maxAttempts: e.ANALYSIS_MAX_ATTEMPTS,
    retryBackoffMs: e.ANALYSIS_RETRY_BACKOFF_MS,
    jobTimeoutMs: e.ANALYSIS_JOB_TIMEOUT_MS,
    sweepIntervalMs: e.ANALYSIS_SWEEP_INTERVAL_MS,
    reservationTtlSeconds: e.ANALYSIS_RESERVATION_TTL_SECONDS,
    allowedHosts: e.ANALYSIS_DOWNLOAD_ALLOWED_HOSTS.split(',')
      .map((h) => h.trim())
      .filter(Boolean),
    market: market.config,
    backtest: {
      leaseMs: e.BACKTEST_LEASE_MS,
      concurrency: e.BACKTEST_CONCURRENCY,
      pollMs: e.BACKTEST_POLL_MS,
    },
  };
}
export type AnalysisConfig = ReturnType<typeof loadAnalysisConfig>;
