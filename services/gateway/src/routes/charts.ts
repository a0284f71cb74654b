import {
  AnalysisListForChart,
  type AnalysisSummary,
  BulkGenerateRequest,
  BulkGenerateResponse,
  ChartBulkGenerate,
  ChartDelete,
  ChartDetailResponse,
  ChartGenerate,
  ChartGet,
  ChartList,
  ChartListQuery,
  ChartListResponse,
  DeletedResponse,
  GenerateChartRequest,
  GenerateChartResponse,
  successResponse,
} from '@chartwright/contracts';
import { callRpc, ServiceError } from '@chartwright/kit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireCaller } from '../auth/authenticate.js';
import type { GatewayContext } from '../context.js';
import { ApiError } from '../errors.js';
import type { RouteDeps } from './deps.js';
import { templateRoutes } from './templates.js';

// chart-img.com may take its 30 s plus a wait for its rate limit; bulk runs up to 50 of those.
const GENERATE_TIMEOUT_MS = 60_000;
const BULK_TIMEOUT_MS = 300_000;
const READ_TIMEOUT_MS = 10_000;
const ANALYSES_TIMEOUT_MS = 3_000;

const ChartParams = z.object({ id: z.uuid() });

/** Chart generation, history, images and templates (design document, "Chart Generation"...). */
export async function chartRoutes(app: FastifyInstance, ctx: GatewayContext, deps: RouteDeps): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.post(
    '/v1/charts/generate',
    {
      preHandler: deps.generationRateLimit,
      schema: {
        tags: ['charts'],
        operationId: 'generateChart',
        // An unknown `templateId`.
        errors: ['NOT_FOUND'],
        summary: 'Generate a chart (a chart config, or a templateId with overrides)',
        description:
          'Studies and drawings use chart-img.com names. `url` is a signed link that works without a token until `metadata.expiresAt`.',
        body: GenerateChartRequest,
        response: { 201: successResponse(GenerateChartResponse) },
      },
    },
    async (req, reply) => {
      const caller = requireCaller(req);
      const data = await callRpc(
        ctx.bus,
        ChartGenerate,
        { userId: caller.id, request: req.body, idempotencyKey: req.idempotency?.workId },
        { timeoutMs: GENERATE_TIMEOUT_MS },
      );
      req.usage = { chartsGenerated: 1 };
      return reply.code(201).send({ success: true, data });
    },
  );

  r.post(
    '/v1/charts/bulk',
    {
      preHandler: deps.generationRateLimit,
      schema: {
        tags: ['charts'],
        operationId: 'generateCharts',
        summary: 'Generate up to 50 charts; each item succeeds or fails on its own',
        description:
          'Each item of `charts` is a generate request, validated on its own; each success counts against the monthly quota.',
        body: BulkGenerateRequest,
        response: { 200: successResponse(BulkGenerateResponse) },
      },
    },
    async (req) => {
      const caller = requireCaller(req);
      const data = await callRpc(
        ctx.bus,
        ChartBulkGenerate,
        { userId: caller.id, requests: req.body.charts, idempotencyKey: req.idempotency?.workId },
        { timeoutMs: BULK_TIMEOUT_MS },
      );
      req.usage = { chartsGenerated: data.results.filter((r) => r.success).length };
      return { success: true as const, data };
    },
  );

  r.get(
    '/v1/charts',
    {
      schema: {
        tags: ['charts'],
        operationId: 'listCharts',
        summary: "The caller's charts, newest first",
        querystring: ChartListQuery,
        response: { 200: successResponse(ChartListResponse) },
      },
    },
    async (req) => {
      const caller = requireCaller(req);
      const data = await callRpc(
        ctx.bus,
        ChartList,
        { userId: caller.id, ...req.query },
        { timeoutMs: READ_TIMEOUT_MS },
      );
      return { success: true as const, data };
    },
  );

  r.get(
    '/v1/charts/:id',
    {
      schema: {
        tags: ['charts'],
        operationId: 'getChart',
        summary: 'A chart with its config and analyses',
        params: ChartParams,
        response: { 200: successResponse(ChartDetailResponse) },
      },
    },
    async (req) => {
      const caller = requireCaller(req);
      const ref = { userId: caller.id, chartId: req.params.id };
      const [found, analyses] = await Promise.all([
        callRpc(ctx.bus, ChartGet, ref, { timeoutMs: READ_TIMEOUT_MS }),
        chartAnalyses(ctx, req, ref),
      ]);
      return { success: true as const, data: { chart: found.chart, analyses } };
    },
  );

  r.get(
    '/v1/charts/:id/image',
    {
      schema: {
        tags: ['charts'],
        operationId: 'getChartImage',
        produces: ['image/png', 'image/svg+xml'],
        redirects: true,
        summary: "The chart's image (owner only)",
        params: ChartParams,
      },
    },
    async (req, reply) => {
      const caller = requireCaller(req);
      const { image } = await callRpc(
        ctx.bus,
        ChartGet,
        { userId: caller.id, chartId: req.params.id },
        { timeoutMs: READ_TIMEOUT_MS },
      );
      if (!image.objectKey) {
        // Rendered by chart-img.com and not copied yet: its CDN has it.
        if (image.externalUrl) return reply.redirect(image.externalUrl, 302);
        throw new ApiError('NOT_FOUND', 'Chart image not found');
      }
      const object = await ctx.objects.get(image.objectKey);
      if (!object) throw new ApiError('NOT_FOUND', 'Chart image not found');
      return reply
        .header('content-type', object.contentType || image.contentType)
        .header('content-length', object.size)
        .header('cache-control', 'private, max-age=300')
        .header('x-content-type-options', 'nosniff')
        .send(object.body);
    },
  );

  r.delete(
    '/v1/charts/:id',
    {
      schema: {
        tags: ['charts'],
        operationId: 'deleteChart',
        summary: 'Delete a chart, its analyses and its images',
        params: ChartParams,
        response: { 200: DeletedResponse },
      },
    },
    async (req) => {
      const caller = requireCaller(req);
      await callRpc(
        ctx.bus,
        ChartDelete,
        { userId: caller.id, chartId: req.params.id },
        { timeoutMs: READ_TIMEOUT_MS },
      );
      return {
        success: true as const,
        data: { id: req.params.id, deleted: true as const },
        message: 'Chart deleted successfully',
      };
    },
  );

  await templateRoutes(app, ctx);
}

/** A chart's analyses; none while analysis-service is not there to answer. */
async function chartAnalyses(
  ctx: GatewayContext,
  req: FastifyRequest,
  ref: { userId: string; chartId: string },
): Promise<AnalysisSummary[]> {
  try {
    const r = await callRpc(
      ctx.bus,
      AnalysisListForChart,
      { ...ref, limit: 50 },
      { timeoutMs: ANALYSES_TIMEOUT_MS },
    );
    return r.analyses;
  } catch (err) {
    if (err instanceof ServiceError && (err.code === 'SERVICE_UNAVAILABLE' || err.code === 'TIMEOUT')) {
      req.log.warn({ err }, 'analyses unavailable; answering the chart without them');
      return [];
    }
    throw err;
  }
}
