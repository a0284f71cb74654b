import {
  openServiceStore,
  type RunningService,
  type ServiceFactory,
  startMessaging,
  stopAll,
  systemClock,
} from '@chartwright/kit';
import { MarketData } from '@chartwright/market';
import { type ObjectStore, openObjectStore } from '@chartwright/object-store';
import { Analyses } from './analyses.js';
import { BuiltinAnalyst } from './analyst/builtin.js';
import type { Analyst } from './analyst/types.js';
import { BacktestRunner } from './backtest/runner.js';
import { Backtests } from './backtests.js';
import { loadAnalysisConfig } from './config.js';
import { consumers, maxDeliverFor } from './consumers.js';
import type { AnalysisContext } from './context.js';
import { migrations } from './db/migrations/index.js';
import type { AnalysisDb } from './db/schema.js';
import { AnalysisEvents, SERVICE } from './events.js';
import { handlers } from './handlers.js';
import { MultiTimeframe } from './multi-timeframe.js';
import { sweepTempDir } from './tempfiles.js';
import { AnalysisWorker } from './worker.js';

export { type AnalysisConfig, loadAnalysisConfig } from './config.js';
export { WORKERS_DURABLE } from './consumers.js';
export { SERVICE } from './events.js';
export { readingsOf } from './market.js';
export { sweepTempDir, tempImagePath } from './tempfiles.js';

const QUEUE = 'analysis-service';

export interface AnalysisServiceOptions {
  /** Default: `openObjectStore(env)`. */
  objects?: ObjectStore;
  /** Default: Anthropic when `ANTHROPIC_API_KEY` is set, else the built-in analyst. */
  analyst?: Analyst;
}

/** The analyst the environment asks for. The Anthropic SDK (~20 MB) is loaded only when used. */
export async function analystFromEnv(env: Record<string, string | undefined>): Promise<Analyst> {
  if (!env.ANTHROPIC_API_KEY) return new BuiltinAnalyst();
  const { AnthropicAnalyst, anthropicConfigFromEnv } = await import('./analyst/anthropic.js');
  return new AnthropicAnalyst(anthropicConfigFromEnv(env));
}

/** AI chart analysis: download-on-demand, model adapters, results. */
export function analysisService(opts: AnalysisServiceOptions = {}): ServiceFactory {
  return async (rt): Promise<RunningService> => {
    const config = loadAnalysisConfig(rt.env);
    const logger = rt.logger.child({ service: SERVICE });
    const swept = await sweepTempDir(config.tmpDir);
    if (swept.length)
      logger.warn({ files: swept.length, dir: config.tmpDir }, 'removed temp files of a crashed process');
    const analyst = opts.analyst ?? (await analystFromEnv(rt.env));
    const objects = opts.objects ?? openObjectStore(rt.env);
    const { database, relay } = await openServiceStore<AnalysisDb>(rt, 'analysis', migrations);
    const ctx: AnalysisContext = {
      db: database.db,
      bus: rt.bus,
      relay,
      config,
      logger,
      clock: systemClock,
      objects,
      analyst,
      market: new MarketData(config.market, { onWarning: (message) => logger.warn(message) }),
    };
    const events = new AnalysisEvents(relay, rt.bus, logger);
    const analyses = new Analyses(ctx, events);
    const worker = new AnalysisWorker(ctx, events);
    const multiTimeframe = new MultiTimeframe(ctx, events);
    const runner = new BacktestRunner(ctx, events);
    const backtests = new Backtests(ctx, runner);
    logger.info({ model: analyst.model, concurrency: config.concurrency }, 'analyst ready');
    const subs = await startMessaging(rt.bus, logger, {
      queue: QUEUE,
      handlers: handlers(analyses, multiTimeframe, backtests, database.db),
      consumers: consumers(analyses, worker, config, multiTimeframe),
    }).catch(async (err) => {
      await stopAll([], relay, database);
      throw err;
    });

    const sweeper = setInterval(
      () =>
        analyses
          .sweepAbandoned(maxDeliverFor(config))
          .catch((err) => logger.warn({ err }, 'abandoned analysis sweep failed')),
      config.sweepIntervalMs,
    );
    sweeper.unref();
    runner.start();

    return {
      name: SERVICE,
      checks: {
        database: () => database.ping(),
        objects: () => objects.ping(),
      },
      async stop() {
        clearInterval(sweeper);
        await runner.stop();
        await stopAll(subs, relay, database);
        await objects.close?.();
      },
    };
  };
}

export const startAnalysisService: ServiceFactory = analysisService();
