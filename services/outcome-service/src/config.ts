import { TradingStyle } from '@chartwright/contracts';
import { ConfigError, env, parseEnv } from '@chartwright/kit';
import { MarketDataEnv, marketDataConfig } from '@chartwright/market';
import { DEFAULT_HORIZONS } from '@chartwright/outcomes';
import { z } from 'zod';

const OutcomeEnv = z.object({
  ...MarketDataEnv,
  /** How often signals still open (or waiting for their forward return) are checked against new bars. */
  OUTCOME_CHECK_INTERVAL_MS: env.int(60_000, 50, 86_400_000),
  /** Signals checked per round. */
  OUTCOME_CHECK_BATCH: env.int(200, 1, 10_000),
  /** JSON overriding some styles' horizons in bars, e.g. {"swing_trading":40}. */
  OUTCOME_HORIZONS_JSON: env.json(z.partialRecord(TradingStyle, z.number().int().min(1).max(500))).optional(),
});

export function loadOutcomeConfig(source: Record<string, string | undefined>) {
  const e = parseEnv(OutcomeEnv, source);
  const market = marketDataConfig(e);
  if (market.issues.length) throw new ConfigError(market.issues);
  return {
    market: market.config,
    checkIntervalMs: e.OUTCOME_CHECK_INTERVAL_MS,
    checkBatch: e.OUTCOME_CHECK_BATCH,
    horizons: { ...DEFAULT_HORIZONS, ...e.OUTCOME_HORIZONS_JSON },
  };
}
export type OutcomeConfig = ReturnType<typeof loadOutcomeConfig>;
