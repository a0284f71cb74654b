import { z } from 'zod';
import {
  BulkGenerateResponse,
  ChartDetail,
  ChartListQuery,
  ChartListResponse,
  ChartTemplate,
  CompareChartsRequest,
  CreateTemplateRequest,
  GenerateChartResponse,
  MAX_BULK_CHARTS,
  TemplateListQuery,
  TemplateListResponse,
} from '../rest/charts.js';
import { defineRpc, WorkKey } from './index.js';

// Every request names the caller: chart-service answers NOT_FOUND for another user's charts and
// templates, so their existence is not revealed.
const Caller = z.object({ userId: z.uuid() });
const ChartRef = Caller.extend({ chartId: z.uuid() });
const TemplateRef = Caller.extend({ templateId: z.uuid() });

/**
 * Quota, render, store, save. `request` is validated by chart-service (GenerateChartRequest), so a
 * bulk caller and a single caller get the same field-named VALIDATION_ERRORs.
 */
export const ChartGenerate = defineRpc(
  'svc.chart.generate',
  Caller.extend({ request: z.record(z.string(), z.unknown()), idempotencyKey: WorkKey }),
  GenerateChartResponse,
);

export const ChartBulkGenerate = defineRpc(
  'svc.chart.bulk',
  // Item i's key is `${idempotencyKey}:${i}`.
  Caller.extend({ requests: z.array(z.unknown()).min(1).max(MAX_BULK_CHARTS), idempotencyKey: WorkKey }),
  BulkGenerateResponse,
);

/** One chart of 2 to 4 symbols (built-in renderer); counts as one chart. */
export const ChartCompare = defineRpc(
  'svc.chart.compare',
  Caller.extend({ request: CompareChartsRequest, idempotencyKey: WorkKey }),
  GenerateChartResponse,
);

export const ChartList = defineRpc('svc.chart.list', Caller.extend(ChartListQuery.shape), ChartListResponse);

/** Where a chart's image is: our object store (`objectKey`) or, until copied, `externalUrl`. */
export const ChartImageRef = z.object({
  objectKey: z.string().nullable(),
  externalUrl: z.string().nullable(),
  contentType: z.string(),
});
export type ChartImageRef = z.infer<typeof ChartImageRef>;

export const ChartGet = defineRpc(
  'svc.chart.get',
  ChartRef,
  z.object({ chart: ChartDetail, image: ChartImageRef }),
);

export const ChartDelete = defineRpc('svc.chart.delete', ChartRef, z.object({ deleted: z.literal(true) }));

export const TemplateCreate = defineRpc(
  'svc.chart.template_create',
  Caller.extend(CreateTemplateRequest.shape),
  ChartTemplate,
);

export const TemplateList = defineRpc(
  'svc.chart.template_list',
  Caller.extend(TemplateListQuery.shape),
  TemplateListResponse,
);

export const TemplateGet = defineRpc('svc.chart.template_get', TemplateRef, ChartTemplate);

export const TemplateDelete = defineRpc(
  'svc.chart.template_delete',
  TemplateRef,
  z.object({ deleted: z.literal(true) }),
);
