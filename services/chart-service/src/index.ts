/// <reference path="./render/opentype.d.ts" />
import {
  openServiceStore,
  type RunningService,
  type ServiceFactory,
  startMessaging,
  stopAll,
  systemClock,
} from '@chartwright/kit';
import { MarketData } from '@chartwright/market';
import { openObjectStore } from '@chartwright/object-store';
import { ChartImgClient, PostgresDailyAllowance } from './chart-img/index.js';
import { Charts } from './charts.js';
import { loadChartConfig } from './config.js';
import { consumers } from './consumers.js';
import type { ChartContext } from './context.js';
import { migrations } from './db/migrations/index.js';
import type { ChartDb } from './db/schema.js';
import { ChartEvents, SERVICE } from './events.js';
import { ChartExports } from './exports.js';
import { handlers } from './handlers.js';
import { RenderPool } from './render/index.js';

export { CHART_IMG_DRAWINGS, CHART_IMG_PLANS, CHART_IMG_STUDIES, ChartImgClient } from './chart-img/index.js';
export { QUOTA_EXCEEDED_MESSAGE } from './charts.js';
export { SERVICE } from './events.js';

const QUEUE = 'chart-service';

/** Chart generation, rendering and chart history. */
export const startChartService: ServiceFactory = async (rt): Promise<RunningService> => {
  const config = loadChartConfig(rt.env, rt.bus.kind === 'memory');
  const logger = rt.logger.child({ service: SERVICE });
  if (config.signing.secretIsDefault && rt.env.NODE_ENV !== 'test')
    logger.warn('SIGNING_SECRET is not set: image links are signed with a development secret');
  const objects = openObjectStore(rt.env);
  const { database, relay } = await openServiceStore<ChartDb>(rt, 'chart', migrations);
  const db = database.db;
  const pool = new RenderPool(config.render);
  const chartImg = config.chartImg.apiKey
    ? new ChartImgClient({
        ...config.chartImg,
        apiKey: config.chartImg.apiKey,
        allowance: new PostgresDailyAllowance(db),
      })
    : undefined;
  if (chartImg) logger.info({ plan: chartImg.plan }, 'chart-img.com renderer enabled');
  const ctx: ChartContext = {
    db,
    bus: rt.bus,
    relay,
    config,
    logger,
    clock: systemClock,
    objects,
    pool,
    market: new MarketData(config.market, { onWarning: (message) => logger.warn(message) }),
    chartImg,
  };
  const charts = new Charts(ctx, new ChartEvents(relay));
  const subs = await startMessaging(rt.bus, logger, {
    queue: QUEUE,
    handlers: handlers(charts, new ChartExports(ctx, charts)),
    consumers: consumers(charts),
  }).catch(async (err) => {
    await stopAll([], relay, database);
    await pool.close();
    throw err;
  });

  return {
    name: SERVICE,
    checks: {
      database: () => database.ping(),
      objects: () => objects.ping(),
    },
    async stop() {
      await stopAll(subs, relay, database);
      await pool.close();
      await objects.close?.();
    },
  };
};
