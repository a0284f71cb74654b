import { createHash } from 'node:crypto';
import {
  ChartDeleted,
  ChartGenerated,
  ChartStored,
  type EventEnvelope,
  StorageChartObjects,
  StorageDeleteChart,
} from '@chartwright/contracts';
import {
  applyOnce,
  consumeEvents,
  enqueueEvent,
  makeEvent,
  openServiceStore,
  type RunningService,
  type ServiceFactory,
  type Subscription,
  serveRpc,
  stopAll,
} from '@chartwright/kit';
import { chartObjectKey, isValidKey, type ObjectStore, openObjectStore } from '@chartwright/object-store';
import type { z } from 'zod';
import { loadStorageConfig } from './config.js';
import { migrations } from './db/migrations/index.js';
import type { StorageDb } from './db/schema.js';
import { fetchChartImage } from './download.js';
import {
  alreadyApplied,
  chartKeys,
  deleteChartRecords,
  isChartDeleted,
  listChartRecords,
  markChartDeleted,
  upsertRecord,
} from './records.js';

export { loadStorageConfig, type StorageConfig } from './config.js';
export { fetchChartImage } from './download.js';

export const SERVICE = 'storage-service';
const QUEUE = 'storage-service';
const CHARTS_CONSUMER = 'storage-charts';
const DELETES_CONSUMER = 'storage-deletes';

type ChartGeneratedData = z.infer<(typeof ChartGenerated)['data']>;

/** Size and sha256 of a stored object, read back from the store. */
async function describeObject(objects: ObjectStore, key: string): Promise<{ size: number; sha256: string }> {
  const obj = await objects.get(key);
  if (!obj) throw new Error(`object ${key} not found`);
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of obj.body) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: hash.digest('hex') };
}

/**
 * Object storage (S3 or a folder): records the chart images chart-service stored, copies images
 * that live elsewhere (chart-img.com CDN links) to permanent storage, and deletes a chart's
 * objects when the chart is deleted.
 */
export const startStorageService: ServiceFactory = async (rt): Promise<RunningService> => {
  const config = loadStorageConfig(rt.env);
  const logger = rt.logger.child({ service: SERVICE });
  const objects = openObjectStore(rt.env);
  const { database, relay } = await openServiceStore<StorageDb>(rt, 'storage', migrations).catch(
    async (err) => {
      await objects.close?.();
      throw err;
    },
  );
  const db = database.db;
  const subs: Subscription[] = [];

  /**
   * True when an event needs no work: it was applied before, or its chart is already deleted (then
   * it is marked applied, and an object of the owner it names is removed).
   */
  async function nothingToDo(eventId: string, data: ChartGeneratedData): Promise<boolean> {
    if (await alreadyApplied(db, CHARTS_CONSUMER, eventId)) return true;
    if (!(await isChartDeleted(db, data.chartId, data.userId))) return false;
    await applyOnce(db, CHARTS_CONSUMER, eventId, async () => {});
    if (data.objectKey?.startsWith(`users/${data.userId}/`)) await objects.delete(data.objectKey);
    return true;
  }

  /** A chart-service image: record it. */
  async function recordStored(eventId: string, data: ChartGeneratedData, key: string): Promise<void> {
    if (await nothingToDo(eventId, data)) return;
    const described =
      data.size !== null && data.sha256 !== null
        ? { size: data.size, sha256: data.sha256 }
        : await describeObject(objects, key);
    let deleted = false;
    await applyOnce(db, CHARTS_CONSUMER, eventId, async (trx) => {
      deleted = await isChartDeleted(trx, data.chartId, data.userId);
      if (deleted) return;
      await upsertRecord(trx, {
        key,
        ownerId: data.userId,
        chartId: data.chartId,
        ...described,
        contentType: data.contentType,
      });
    });
    if (deleted && key.startsWith(`users/${data.userId}/`)) await objects.delete(key);
  }

  /** An external image: copy it, record it and announce it, unless the chart was deleted meanwhile. */
  async function copyExternal(eventId: string, data: ChartGeneratedData, url: string): Promise<void> {
    if (await nothingToDo(eventId, data)) return;
    const image = await fetchChartImage(url, config.download);
    const key = chartObjectKey(data.userId, data.chartId, 'png');
    await objects.put(key, image.body, 'image/png');
    let deleted = false;
    let stored: EventEnvelope | undefined;
    const applied = await applyOnce(db, CHARTS_CONSUMER, eventId, async (trx) => {
      deleted = await isChartDeleted(trx, data.chartId, data.userId);
      if (deleted) return;
      const record = {
        key,
        ownerId: data.userId,
        chartId: data.chartId,
        size: image.size,
        sha256: image.sha256,
        contentType: 'image/png',
      };
      await upsertRecord(trx, record);
      stored = makeEvent(
        ChartStored,
        {
          chartId: data.chartId,
          userId: data.userId,
          objectKey: key,
          size: image.size,
          sha256: image.sha256,
          contentType: record.contentType,
        },
        { source: SERVICE, subject: data.chartId },
      );
      await enqueueEvent(trx, stored);
    });
    if (deleted) {
      await objects.delete(key);
      logger.info({ chartId: data.chartId }, 'chart deleted while its image was copied; copy dropped');
    } else if (applied && stored) {
      void relay.send([stored]);
      logger.info({ chartId: data.chartId, key, size: image.size }, 'external chart image stored');
    }
  }

  /**
   * Deletes a chart's objects and records (only `ownerId`'s). The chart is marked deleted first, so
   * a copy that commits later drops its object; records that appear meanwhile are caught at the end.
   */
  async function deleteChart(chartId: string, ownerId: string, extraKeys: string[] = []): Promise<number> {
    await markChartDeleted(db, chartId, ownerId);
    const own = `users/${ownerId}/`;
    const foreign = extraKeys.filter((k) => !k.startsWith(own) || !isValidKey(k));
    if (foreign.length) logger.warn({ chartId, keys: foreign }, 'ignoring object keys outside the owner');
    const keys = new Set([
      ...(await chartKeys(db, chartId, ownerId)),
      chartObjectKey(ownerId, chartId, 'png'),
      chartObjectKey(ownerId, chartId, 'svg'),
      ...extraKeys.filter((k) => !foreign.includes(k)),
    ]);
    await Promise.all([...keys].map((k) => objects.delete(k)));
    const removed = await deleteChartRecords(db, chartId, ownerId);
    await Promise.all(removed.filter((k) => !keys.has(k)).map((k) => objects.delete(k)));
    return removed.length;
  }

  try {
    // One at a time, so a failure leaves `subs` holding everything that started.
    subs.push(
      await serveRpc(rt.bus, StorageDeleteChart, QUEUE, logger, async (req) => ({
        deleted: await deleteChart(req.chartId, req.userId),
      })),
    );
    subs.push(
      await serveRpc(rt.bus, StorageChartObjects, QUEUE, logger, async (req) => ({
        objects: await listChartRecords(db, req.chartId, req.userId),
      })),
    );
    subs.push(
      await consumeEvents(
        rt.bus,
        {
          stream: 'CHARTS',
          durable: CHARTS_CONSUMER,
          filterSubject: ChartGenerated.type,
          concurrency: config.concurrency,
          // A download may take its whole deadline before the handler answers.
          ackWaitMs: config.download.timeoutMs + 30_000,
        },
        {
          [ChartGenerated.type]: async (e) => {
            const data = e.data as ChartGeneratedData;
            if (data.objectKey) return recordStored(e.id, data, data.objectKey);
            if (data.externalUrl) return copyExternal(e.id, data, data.externalUrl);
            logger.warn(
              { chartId: data.chartId, id: e.id },
              'chart.generated without an image; nothing to store',
            );
          },
        },
        logger,
      ),
    );
    subs.push(
      await consumeEvents(
        rt.bus,
        { stream: 'CHARTS', durable: DELETES_CONSUMER, filterSubject: ChartDeleted.type },
        {
          [ChartDeleted.type]: async (e) => {
            const data = e.data as z.infer<(typeof ChartDeleted)['data']>;
            await deleteChart(data.chartId, data.userId, data.objectKeys);
          },
        },
        logger,
      ),
    );
  } catch (err) {
    await stopAll(subs, relay, database);
    await objects.close?.();
    throw err;
  }

  return {
    name: SERVICE,
    checks: {
      database: () => database.ping(),
      objectStore: () => objects.ping(),
    },
    async stop() {
      await stopAll(subs, relay, database);
      await objects.close?.();
    },
  };
};
