import {
  AnalysisAccepted,
  type AnalysisDetail,
  AnalysisDetailResponse,
  AnalysisGet,
  AnalysisList,
  AnalysisListQuery,
  AnalysisListResponse,
  type AnalysisRecord,
  AnalysisRequest,
  AnalyzeQuery,
  AnalyzeRequest,
  AnalyzeResponseData,
  successResponse,
} from '@chartwright/contracts';
import { callRpc } from '@chartwright/kit';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { type Step, stepsOf } from '../analysis-watch.js';
import { requireCaller } from '../auth/authenticate.js';
import type { GatewayContext } from '../context.js';
import { ApiError } from '../errors.js';
import { streamProgress } from '../sse.js';
import type { RouteDeps } from './deps.js';

const IdParams = z.object({ id: z.uuid() });

function failure(analysisId: string, step: Step): ApiError {
  const error = step.error ?? { code: 'INTERNAL', reason: 'the analysis failed' };
  return new ApiError('UPSTREAM_ERROR', `The analysis failed: ${error.reason}`, {
    analysisId,
    code: error.code,
    reason: error.reason,
  });
}

export function toAnalysisDetail(r: AnalysisRecord): AnalysisDetail {
  return {
    ...(r.result ?? {}),
    id: r.id,
    chartId: r.chartId,
    status: r.status,
    symbol: r.symbol,
    interval: r.interval,
    prompt: r.prompt,
    options: r.options,
    metadata: r.metadata,
    error: r.error,
    createdAt: r.createdAt,
    completedAt: r.completedAt,
  };
}

export async function analysisRoutes(
  app: FastifyInstance,
  ctx: GatewayContext,
  deps: RouteDeps,
): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const openStreams = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of openStreams) end();
  });

  r.post(
    '/v1/charts/:id/analyze',
    {
      preHandler: deps.analysisRateLimit,
      schema: {
        tags: ['analyses'],
        operationId: 'analyzeChart',
        respondAsync: true,
        summary: 'Analyse a chart with AI',
        description:
          'Queues an AI analysis of the chart and, by default, waits up to `wait` seconds (default 30) for ' +
          'the result. With `wait=0`, `Prefer: respond-async`, or when the wait runs out, it answers 202 ' +
          'with the analysis id and a `Location` to poll (`GET /v1/analyses/:id`) or stream ' +
          '(`GET /v1/analyses/:id/events`). A failed analysis answers 502 with the reason.',
        params: IdParams,
        querystring: AnalyzeQuery,
        body: AnalyzeRequest,
        response: { 200: successResponse(AnalyzeResponseData), 202: successResponse(AnalysisAccepted) },
      },
    },
    async (req, reply) => {
      const caller = requireCaller(req);
      const respondAsync = /(^|[\s,;])respond-async([\s,;]|$)/i.test(String(req.headers.prefer ?? ''));
      const waitMs = respondAsync ? 0 : req.query.wait * 1000;
      // analysis-service answers at once; the outcome comes as an event to every replica.
      const accepted = await callRpc(ctx.bus, AnalysisRequest, {
        userId: caller.id,
        chartId: req.params.id,
        prompt: req.body.prompt ?? null,
        options: req.body.options,
        idempotencyKey: req.idempotency?.workId,
      });
      // A drain ends the wait: the client gets 202 and the analysis's location.
      // A replay (same Idempotency-Key) may name an analysis finished long ago: read it once.
      const finished = accepted.status === 'completed' || accepted.status === 'failed';
      const outcome =
        waitMs <= 0
          ? undefined
          : finished
            ? await ctx.analyses.read(caller.id, accepted.analysisId)
            : await ctx.analyses.outcome(caller.id, accepted.analysisId, waitMs, ctx.draining);

      // The ledger's analyses and tokens are not set here (200 or 202): quota-service counts each
      // analysis once, from its `analysis.completed`.
      if (outcome?.status === 'completed' && outcome.analysis && outcome.metadata) {
        return reply.code(200).send({
          success: true as const,
          data: {
            analysisId: accepted.analysisId,
            analysis: outcome.analysis,
            metadata: outcome.metadata,
            quota: accepted.quota,
          },
        });
      }
      if (outcome?.status === 'failed') throw failure(accepted.analysisId, outcome);
      if (respondAsync) reply.header('preference-applied', 'respond-async');
      return reply
        .code(202)
        .header('location', `/v1/analyses/${accepted.analysisId}`)
        .send({ success: true as const, data: { analysisId: accepted.analysisId, status: accepted.status } });
    },
  );

  r.get(
    '/v1/analyses',
    {
      schema: {
        tags: ['analyses'],
        operationId: 'listAnalyses',
        summary: "The caller's analyses, newest first",
        querystring: AnalysisListQuery,
        response: { 200: successResponse(AnalysisListResponse) },
      },
    },
    async (req) => {
      const caller = requireCaller(req);
      const { limit, offset, chartId } = req.query;
      const page = await callRpc(ctx.bus, AnalysisList, { userId: caller.id, chartId, limit, offset });
      return {
        success: true as const,
        data: {
          analyses: page.analyses,
          pagination: {
            total: page.total,
            limit,
            offset,
            hasMore: offset + page.analyses.length < page.total,
          },
        },
      };
    },
  );

  r.get(
    '/v1/analyses/:id',
    {
      schema: {
        tags: ['analyses'],
        operationId: 'getAnalysis',
        summary: 'One analysis: its status and, once completed, the signal',
        params: IdParams,
        response: { 200: successResponse(AnalysisDetailResponse) },
      },
    },
    async (req) => {
      const caller = requireCaller(req);
      const record = await callRpc(ctx.bus, AnalysisGet, { userId: caller.id, analysisId: req.params.id });
      return { success: true as const, data: { analysis: toAnalysisDetail(record) } };
    },
  );

  r.get(
    '/v1/analyses/:id/events',
    {
      schema: {
        tags: ['analyses'],
        operationId: 'streamAnalysisEvents',
        produces: ['text/event-stream'],
        summary: "An analysis' progress as Server-Sent Events",
        description:
          'A `text/event-stream`: one event per step (`queued`, `downloading`, `analysing`, then `completed` ' +
          'or `failed`, the event name being the status; `data` is JSON with `analysisId`, `status`, `at` ' +
          'and, at the end, `analysis` and `metadata` or `error`). The stream ends after the last step; ' +
          'for a finished analysis it replays the steps at once.',
        params: IdParams,
      },
    },
    async (req, reply) => {
      const caller = requireCaller(req);
      const analysisId = req.params.id;
      // Steps are handed over in order and once each, whether from the record or from events.
      const ranks = ['queued', 'downloading', 'analysing'];
      const rankOf = (s: Step) => (ranks.includes(s.status) ? ranks.indexOf(s.status) : 3);
      let rank = -1;
      await streamProgress<Step, AnalysisRecord>(reply, openStreams, {
        listen: (fn) => ctx.analyses.listen(caller.id, analysisId, fn),
        read: () => callRpc(ctx.bus, AnalysisGet, { userId: caller.id, analysisId }),
        replay: stepsOf,
        accept: (step) => {
          if (rankOf(step) <= rank) return undefined;
          rank = rankOf(step);
          return { name: step.status, final: rank === 3 };
        },
      });
    },
  );
}
