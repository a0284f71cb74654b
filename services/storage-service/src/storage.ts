import { createHash } from 'node:crypto';
import type { ChartGenerated, DataOf, EventEnvelope } from '@chartwright/contracts';
import { applyOnce } from '@chartwright/kit';
import { chartObjectKey, isValidKey } from '@chartwright/object-store';
import type { StorageContext } from './context.js';
import {
  alreadyApplied,
  chartKeys,
  deleteChartRecords,
  isChartDeleted,
  listChartRecords,
  markChartDeleted,
  upsertRecord,
} from './db/records.js';
import { fetchChartImage } from './download.js';
import type { StorageEvents } from './events.js';

/** The inbox key of the `chart.generated` consumer. */
export const CHARTS_CONSUMER = 'storage-charts';

type Generated = DataOf<typeof ChartGenerated>;

/**
 * storage-service's use cases: record the chart images chart-service stored, copy images that
 * live elsewhere (chart-img.com CDN links) to permanent storage, delete a chart's objects.
 */
export class Storage {
  constructor(
    private readonly ctx: StorageContext,
    private readonly events: StorageEvents,
  ) {}

  /** `chart.generated`: record our image, or copy an external one. */
  async chartGenerated(eventId: string, data: Generated): Promise<void> {
    if (data.objectKey) return this.#recordStored(eventId, data, data.objectKey);
    if (data.externalUrl) return this.#copyExternal(eventId, data, data.externalUrl);
    this.ctx.logger.warn({ chartId: data.chartId, id: eventId }, 'chart.generated without an image');
  }

  listChartObjects(chartId: string, userId: string) {
    return listChartRecords(this.ctx.db, chartId, userId);
  }

  /**
   * `chart.deleted`: deletes a chart's objects and records (only `ownerId`'s). The chart is marked
   * deleted first, so a copy that commits later drops its object; records that appear meanwhile
   * are caught at the end. Idempotent.
   */
  async deleteChart(chartId: string, ownerId: string, extraKeys: string[] = []): Promise<number> {
    const { db, objects, logger } = this.ctx;
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

  /**
   * True when an event needs no work: it was applied before, or its chart is already deleted (then
   * it is marked applied, and an object of the owner it names is removed).
   */
  async #nothingToDo(eventId: string, data: Generated): Promise<boolean> {
    const { db, objects } = this.ctx;
    if (await alreadyApplied(db, CHARTS_CONSUMER, eventId)) return true;
    if (!(await isChartDeleted(db, data.chartId, data.userId))) return false;
    await applyOnce(db, CHARTS_CONSUMER, eventId, async () => {});
    if (data.objectKey?.startsWith(`users/${data.userId}/`)) await objects.delete(data.objectKey);
    return true;
  }

  /** A chart-service image: record it. */
  async #recordStored(eventId: string, data: Generated, key: string): Promise<void> {
    if (await this.#nothingToDo(eventId, data)) return;
    const described =
      data.size !== null && data.sha256 !== null
        ? { size: data.size, sha256: data.sha256 }
        : await this.#describe(key);
    let deleted = false;
    await applyOnce(this.ctx.db, CHARTS_CONSUMER, eventId, async (trx) => {
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
    if (deleted && key.startsWith(`users/${data.userId}/`)) await this.ctx.objects.delete(key);
  }

  /** An external image: copy it, record it and announce it, unless the chart was deleted meanwhile. */
  async #copyExternal(eventId: string, data: Generated, url: string): Promise<void> {
    const { db, objects, logger, config } = this.ctx;
    if (await this.#nothingToDo(eventId, data)) return;
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
      stored = this.events.chartStored({
        chartId: data.chartId,
        userId: data.userId,
        objectKey: key,
        size: image.size,
        sha256: image.sha256,
        contentType: record.contentType,
      });
      await this.events.store(trx, stored);
    });
    if (deleted) {
      await objects.delete(key);
      logger.info({ chartId: data.chartId }, 'chart deleted while its image was copied; copy dropped');
    } else if (applied && stored) {
      this.events.send([stored]);
      logger.info({ chartId: data.chartId, key, size: image.size }, 'external chart image stored');
    }
  }

  /** Size and sha256 of a stored object, read back from the store. */
  async #describe(key: string): Promise<{ size: number; sha256: string }> {
    const obj = await this.ctx.objects.get(key);
    if (!obj) throw new Error(`object ${key} not found`);
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of obj.body) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    return { size, sha256: hash.digest('hex') };
  }
}
