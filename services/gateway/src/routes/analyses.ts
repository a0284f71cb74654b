import {
  AnalysisAccepted,
  type AnalysisDetail,
  AnalysisDetailResponse,
  AnalysisGet,
  AnalysisList,
  AnalysisListQuery,
  AnalysisListResponse,
  type AnalysisProgressEvent,
  type AnalysisRecord,
  AnalysisRequest,
  type AnalysisStatus,
  AnalysisWait,
  AnalyzeQuery,
  AnalyzeRequest,
  AnalyzeResponseData,
  successResponse,
} from '@chartwright/contracts';
import { callRpc, ServiceError } from '@chartwright/kit';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireCaller } from '../auth/authenticate.js';
import type { GatewayContext } from '../context.js';
import { ApiError } from '../errors.js';
import type { RouteDeps } from './deps.js';

const IdParams = z.object({ id: z.uuid() });
const FINAL: readonly AnalysisStatus[] = ['completed', 'failed'];
/** One wait request to analysis-service; longer waits are several of them. */
const WAIT_SLICE_MS = 20_000;
/**
 * The first slice is shorter: it cannot be cut short by a drain (its answer carries the new
 * analysis's id), so it must end well within the shutdown grace period.
 */
const FIRST_WAIT_SLICE_MS = 10_000;
const RPC_GRACE_MS = 5_000;
const REQUEST_BUDGET_MS = 10_000;

const isFinal = (r: AnalysisRecord) => FINAL.includes(r.status);

/**
 * Waits until the analysis is finished or `ms` pass. analysis-service answers as soon as the
 * status changes, so there is no polling here. An unreachable service ends the wait early: the
 * analysis is queued either way, and the client gets its location.
 */
async function waitForResult(
  ctx: GatewayContext,
  userId: string,
  analysisId: string,
  ms: number,
): Promise<AnalysisRecord | undefined> {
  const deadline = Date.now() + ms;
  let record: AnalysisRecord | undefined;
  // A drain ends the wait: the client gets 202 and the analysis's location.
  while (Date.now() < deadline && !ctx.draining?.aborted) {
    const timeoutMs = Math.min(WAIT_SLICE_MS, deadline - Date.now());
    try {
      record = await callRpc(
        ctx.bus,
        AnalysisWait,
        { userId, analysisId, until: 'done', timeoutMs },
        { timeoutMs: timeoutMs + RPC_GRACE_MS, signal: ctx.draining },
      );
    } catch (err) {
      if (err instanceof ServiceError && (err.code === 'TIMEOUT' || err.code === 'SERVICE_UNAVAILABLE')) {
        ctx.logger.warn({ err, analysisId }, 'waiting for an analysis failed; answering 202');
        return record;
      }
      throw err;
    }
    if (isFinal(record)) return record;
  }
  return record;
}

function failure(record: AnalysisRecord): ApiError {
  const error = record.error ?? { code: 'INTERNAL', reason: 'the analysis failed' };
  return new ApiError('UPSTREAM_ERROR', `The analysis failed: ${error.reason}`, {
    analysisId: record.id,
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

/** The steps an analysis has gone through, in order, as progress events. */
function progressOf(r: AnalysisRecord): AnalysisProgressEvent[] {
  const steps: AnalysisProgressEvent[] = [{ analysisId: r.id, status: 'queued', at: r.createdAt }];
  if (r.downloadingAt) steps.push({ analysisId: r.id, status: 'downloading', at: r.downloadingAt });
  if (r.analysingAt) steps.push({ analysisId: r.id, status: 'analysing', at: r.analysingAt });
  const at = r.completedAt ?? new Date().toISOString();
  if (r.status === 'completed' && r.result && r.metadata) {
    steps.push({ analysisId: r.id, status: 'completed', at, analysis: r.result, metadata: r.metadata });
  } else if (r.status === 'failed') {
    steps.push({ analysisId: r.id, status: 'failed', at, ...(r.error ? { error: r.error } : {}) });
  }
  return steps;
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
      const started = Date.now();
      // One request that also waits: most analyses finish within the first slice.
      const firstWait = Math.min(waitMs, FIRST_WAIT_SLICE_MS);
      const accepted = await callRpc(
        ctx.bus,
        AnalysisRequest,
        {
          userId: caller.id,
          chartId: req.params.id,
          prompt: req.body.prompt ?? null,
          options: req.body.options,
          waitMs: firstWait,
          idempotencyKey: req.idempotency?.workId,
        },
        // The service's own work (chart check, quota, insert) on top of the wait.
        { timeoutMs: firstWait + REQUEST_BUDGET_MS },
      );
      let record = accepted.record;
      const left = waitMs - (Date.now() - started);
      if (record && !isFinal(record) && left > 0)
        record = (await waitForResult(ctx, caller.id, accepted.analysisId, left)) ?? record;

      if (record?.status === 'completed' && record.result && record.metadata) {
        req.usage = { analysesPerformed: 1, tokensUsed: record.metadata.tokensUsed };
        return reply.code(200).send({
          success: true as const,
          data: {
            analysisId: record.id,
            analysis: record.result,
            metadata: record.metadata,
            quota: accepted.quota,
          },
        });
      }
      if (record?.status === 'failed') throw failure(record);
      if (respondAsync) reply.header('preference-applied', 'respond-async');
      return reply
        .code(202)
        .header('location', `/v1/analyses/${accepted.analysisId}`)
        .send({
          success: true as const,
          data: { analysisId: accepted.analysisId, status: record?.status ?? accepted.status },
        });
    },
  );

  r.get(
    '/v1/analyses',
    {
      schema: {
        tags: ['analyses'],
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
      // Answer 404 as JSON before the stream starts.
      let record = await callRpc(ctx.bus, AnalysisGet, { userId: caller.id, analysisId });

      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      let closed = false;
      // On shutdown the stream ends with a hint to reconnect (to another replica), so the drain
      // does not wait for an analysis that may take minutes.
      const endForShutdown = () => {
        if (closed) return;
        closed = true;
        res.end(': the server is shutting down; reconnect\nretry: 1000\n\n');
      };
      openStreams.add(endForShutdown);
      res.on('close', () => {
        closed = true;
        openStreams.delete(endForShutdown);
      });
      let sent = 0;
      const flush = (rec: AnalysisRecord) => {
        const steps = progressOf(rec);
        const fresh = steps.slice(sent);
        for (const step of fresh) {
          sent++;
          res.write(`id: ${sent}\nevent: ${step.status}\ndata: ${JSON.stringify(step)}\n\n`);
        }
        return fresh.length;
      };
      flush(record);
      while (!closed && !isFinal(record)) {
        try {
          record = await callRpc(
            ctx.bus,
            AnalysisWait,
            { userId: caller.id, analysisId, until: 'change', known: record.status, timeoutMs: 15_000 },
            { timeoutMs: 15_000 + RPC_GRACE_MS },
          );
        } catch (err) {
          if (err instanceof ServiceError && err.code === 'NOT_FOUND') {
            if (closed) break;
            res.write(
              `event: error\ndata: ${JSON.stringify({ code: 'NOT_FOUND', message: 'the analysis was deleted' })}\n\n`,
            );
            break;
          }
          req.log.warn({ err, analysisId }, 'analysis progress wait failed; retrying');
          await new Promise((r) => setTimeout(r, 1_000));
          continue;
        }
        if (!closed && flush(record) === 0) res.write(': keep-alive\n\n');
      }
      openStreams.delete(endForShutdown);
      if (!res.writableEnded) res.end();
    },
  );
}
