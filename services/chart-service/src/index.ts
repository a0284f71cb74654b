/// <reference path="./render/opentype.d.ts" />
import {
  AnalysisCompleted,
  ChartBulkGenerate,
  ChartDelete,
  ChartGenerate,
  ChartGet,
  ChartList,
  ChartStored,
  TemplateCreate,
  TemplateDelete,
  TemplateGet,
  TemplateList,
} from '@chartwright/contracts';
import {
  applyOnce,
  consumeEvents,
  openServiceStore,
  type RunningService,
  type ServiceFactory,
  type Subscription,
  serveRpc,
  stopAll,
} from '@chartwright/kit';
import { openObjectStore } from '@chartwright/object-store';
import { ChartImgClient, PostgresDailyAllowance } from './chart-img/index.js';
import { Charts } from './charts.js';
import { loadChartConfig } from './config.js';
import { migrations } from './db/migrations/index.js';
import type { ChartDb } from './db/schema.js';
import { ChartMarketData } from './market.js';
import { RenderPool } from './render/index.js';

export { CHART_IMG_DRAWINGS, CHART_IMG_PLANS, CHART_IMG_STUDIES, ChartImgClient } from './chart-img/index.js';
export { QUOTA_EXCEEDED_MESSAGE } from './charts.js';

export const SERVICE = 'chart-service';
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
  const charts = new Charts({
    db,
    relay,
    bus: rt.bus,
    objects,
    pool,
    market: new ChartMarketData(config.market),
    chartImg,
    config,
    logger,
  });

  const subs: Subscription[] = [];
  try {
    subs.push(
      await serveRpc(rt.bus, ChartGenerate, QUEUE, logger, (req) =>
        charts.generate(req.userId, req.request, req.idempotencyKey),
      ),
      await serveRpc(rt.bus, ChartBulkGenerate, QUEUE, logger, (req) =>
        charts.bulk(req.userId, req.requests, req.idempotencyKey),
      ),
      await serveRpc(rt.bus, ChartList, QUEUE, logger, ({ userId, ...q }) => charts.list(userId, q)),
      await serveRpc(rt.bus, ChartGet, QUEUE, logger, (req) => charts.get(req.userId, req.chartId)),
      await serveRpc(rt.bus, ChartDelete, QUEUE, logger, async (req) => {
        await charts.delete(req.userId, req.chartId);
        return { deleted: true as const };
      }),
      await serveRpc(rt.bus, TemplateCreate, QUEUE, logger, ({ userId, ...req }) =>
        charts.createTemplate(userId, req),
      ),
      await serveRpc(rt.bus, TemplateList, QUEUE, logger, ({ userId, ...q }) =>
        charts.listTemplates(userId, q),
      ),
      await serveRpc(rt.bus, TemplateGet, QUEUE, logger, (req) =>
        charts.getTemplate(req.userId, req.templateId),
      ),
      await serveRpc(rt.bus, TemplateDelete, QUEUE, logger, async (req) => {
        await charts.deleteTemplate(req.userId, req.templateId);
        return { deleted: true as const };
      }),
    );
    subs.push(
      await consumeEvents(
        rt.bus,
        { stream: 'CHARTS', durable: 'chart-stored', filterSubject: ChartStored.type },
        {
          [ChartStored.type]: (e) => charts.markStored(e.data.chartId, e.data.userId, e.data.objectKey),
        },
        logger,
      ),
      // analysesCount counts completed analyses; the inbox keeps a redelivery from counting twice.
      await consumeEvents(
        rt.bus,
        { stream: 'ANALYSES', durable: 'chart-analyses', filterSubject: AnalysisCompleted.type },
        {
          [AnalysisCompleted.type]: async (e) =>
            void (await applyOnce(db, 'chart-analyses', e.id, async (trx) => {
              await trx
                .updateTable('charts')
                .set((eb) => ({ analyses_count: eb('analyses_count', '+', 1) }))
                .where('id', '=', e.data.chartId)
                .where('user_id', '=', e.data.userId)
                .execute();
            })),
        },
        logger,
      ),
    );
  } catch (err) {
    await stopAll(subs, relay, database);
    await pool.close();
    throw err;
  }

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
