import { z } from 'zod';
import { AnalysisSummary } from '../rpc/analyses.js';
import {
  ChartConfig,
  ChartStyle,
  CompareSpec,
  Drawing,
  ImageFormat,
  Interval,
  MarketSymbol,
  Range,
  Renderer,
  Study,
  Theme,
} from './chart-config.js';
import { Pagination, QuotaCounter, Uuid } from './common.js';

const shape = ChartConfig.shape;

/**
 * Chart config fields with no defaults applied: a template's overrides, or a request that names a
 * template. Arrays (`studies`, `drawings`) replace the template's arrays as a whole.
 */
export const ChartConfigPatch = z.object({
  symbol: MarketSymbol.optional(),
  interval: Interval.optional(),
  range: Range.optional(),
  end: shape.end,
  theme: Theme.optional(),
  style: ChartStyle.optional(),
  width: shape.width.unwrap().optional(),
  height: shape.height.unwrap().optional(),
  format: ImageFormat.optional(),
  renderer: Renderer.optional(),
  timezone: shape.timezone,
  studies: z.array(Study).max(25).optional(),
  drawings: z.array(Drawing).max(50).optional(),
});
export type ChartConfigPatch = z.infer<typeof ChartConfigPatch>;

/**
 * Body of `POST /v1/charts/generate`: a chart config (design document), or `templateId` with the
 * fields that override the template's.
 */
export const GenerateChartRequest = ChartConfigPatch.extend({
  /** A saved template to start from; the other fields override its config. */
  templateId: Uuid.optional(),
}).superRefine((v, ctx) => {
  if (v.templateId) return;
  for (const field of ['symbol', 'interval'] as const) {
    if (v[field] === undefined)
      ctx.addIssue({ code: 'custom', path: [field], message: 'is required (or give a templateId)' });
  }
});
export type GenerateChartRequest = z.infer<typeof GenerateChartRequest>;

export const ChartStatus = z.enum(['ready', 'stored', 'expired']);
export type ChartStatus = z.infer<typeof ChartStatus>;

export const ChartMetadata = z.object({
  /** `PNG` or `SVG`. */
  format: z.enum(['PNG', 'SVG']),
  /** `1200x675`. */
  resolution: z.string().regex(/^\d+x\d+$/),
  generatedAt: z.iso.datetime({ offset: true }),
  /** When `url` stops working; fetch the chart again for a fresh link. */
  expiresAt: z.iso.datetime({ offset: true }).nullable(),
  renderer: Renderer,
  /** The bars were generated, not market data: the image says so too. */
  synthetic: z.boolean(),
  /** The symbols of a comparison chart, in order. */
  symbols: z.array(z.string()).optional(),
});
export type ChartMetadata = z.infer<typeof ChartMetadata>;

/** `data` of `POST /v1/charts/generate` (design document). */
export const GenerateChartResponse = z.object({
  chartId: Uuid,
  /** A signed, expiring link to the image that works without a token. */
  url: z.string(),
  metadata: ChartMetadata,
  quota: QuotaCounter,
  /**
   * What the chart could not show, one sentence each, e.g. `drawing 2 "Horizontal Line" at 60,000.00
   * is outside the chart's price range 790.00–870.00`. Absent when there is nothing to report.
   */
  warnings: z.array(z.string()).optional(),
});
export type GenerateChartResponse = z.infer<typeof GenerateChartResponse>;

/** An item of `GET /v1/charts`. */
export const ChartListItem = z.object({
  id: Uuid,
  /** The first symbol of a comparison chart. */
  symbol: z.string(),
  /** Every symbol the chart shows: `[symbol]`, or a comparison's 2 to 4 (chart-service always sets it). */
  symbols: z.array(z.string()).optional(),
  interval: z.string(),
  url: z.string(),
  status: ChartStatus,
  renderer: Renderer,
  synthetic: z.boolean(),
  createdAt: z.iso.datetime({ offset: true }),
  expiresAt: z.iso.datetime({ offset: true }).nullable(),
  analysesCount: z.number().int().nonnegative(),
});
export type ChartListItem = z.infer<typeof ChartListItem>;

export const ChartListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
  /** Part of the symbol, e.g. `BTCUSDT` matches `BINANCE:BTCUSDT`. */
  symbol: z.string().trim().min(1).max(64).optional(),
  status: ChartStatus.optional(),
});
export type ChartListQuery = z.infer<typeof ChartListQuery>;

export const ChartListResponse = z.object({
  charts: z.array(ChartListItem),
  pagination: Pagination,
});
export type ChartListResponse = z.infer<typeof ChartListResponse>;

/** `chart` of `GET /v1/charts/:id`. */
export const ChartDetail = ChartListItem.extend({
  range: z.string().nullable(),
  config: ChartConfig,
  format: ImageFormat,
  width: z.number().int(),
  height: z.number().int(),
  /** The image's lasting address (owner only, with a token), once it is in our storage. */
  permanentUrl: z.string().nullable(),
});
export type ChartDetail = z.infer<typeof ChartDetail>;

export const ChartDetailResponse = z.object({
  chart: ChartDetail,
  analyses: z.array(AnalysisSummary),
});
export type ChartDetailResponse = z.infer<typeof ChartDetailResponse>;

/** Body of `POST /v1/charts/compare`: 2 to 4 symbols on one chart. */
export const CompareChartsRequest = z.object({
  symbols: CompareSpec.shape.symbols,
  interval: Interval,
  range: Range.optional(),
  layout: CompareSpec.shape.layout,
  theme: Theme.optional(),
  width: shape.width.unwrap().optional(),
  height: shape.height.unwrap().optional(),
  format: ImageFormat.optional(),
  timezone: shape.timezone,
});
export type CompareChartsRequest = z.infer<typeof CompareChartsRequest>;

export const MAX_BULK_CHARTS = 50;

/**
 * Body of `POST /v1/charts/bulk`: up to 50 generate requests. Each item is validated on its own, so
 * one bad item fails alone.
 */
export const BulkGenerateRequest = z.object({
  charts: z
    .array(z.record(z.string(), z.unknown()).describe('a GenerateChartRequest'))
    .min(1)
    .max(MAX_BULK_CHARTS),
});
export type BulkGenerateRequest = z.infer<typeof BulkGenerateRequest>;

export const BulkItemError = z.object({
  code: z.string(),
  message: z.string(),
  details: z.unknown().optional(),
});

export const BulkItemResult = z.discriminatedUnion('success', [
  z.object({ index: z.number().int(), success: z.literal(true), chart: GenerateChartResponse }),
  z.object({ index: z.number().int(), success: z.literal(false), error: BulkItemError }),
]);
export type BulkItemResult = z.infer<typeof BulkItemResult>;

export const BulkGenerateResponse = z.object({
  results: z.array(BulkItemResult),
  summary: z.object({
    requested: z.number().int(),
    succeeded: z.number().int(),
    failed: z.number().int(),
  }),
  quota: QuotaCounter.nullable(),
});
export type BulkGenerateResponse = z.infer<typeof BulkGenerateResponse>;

/** A saved, named chart config. */
export const ChartTemplate = z.object({
  id: Uuid,
  name: z.string(),
  config: ChartConfig,
  createdAt: z.iso.datetime({ offset: true }),
  updatedAt: z.iso.datetime({ offset: true }),
});
export type ChartTemplate = z.infer<typeof ChartTemplate>;

export const CreateTemplateRequest = z.object({
  name: z.string().trim().min(1).max(100),
  config: ChartConfig,
});
export type CreateTemplateRequest = z.infer<typeof CreateTemplateRequest>;

export const TemplateListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});
export type TemplateListQuery = z.infer<typeof TemplateListQuery>;

export const TemplateListResponse = z.object({
  templates: z.array(ChartTemplate),
  pagination: Pagination,
});
export type TemplateListResponse = z.infer<typeof TemplateListResponse>;
