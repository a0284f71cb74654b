import {
  AnalyzeQuery,
  MultiTimeframeAccepted,
  MultiTimeframeCreate,
  MultiTimeframeGet,
  MultiTimeframeList,
  MultiTimeframeListQuery,
  MultiTimeframeListResponse,
  MultiTimeframeRequest,
  MultiTimeframeResponseData,
  MultiTimeframeRun,
  successResponse,
} from '@chartwright/contracts';
import { callRpc } from '@chartwright/kit';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireCaller } from '../auth/authenticate.js';
import type { GatewayContext } from '../context.js';
import type { RouteDeps } from './deps.js';

const IdParams = z.object({ id: z.uuid() });
/** Up to four charts are drawn before analysis-service answers. */
const CREATE_TIMEOUT_MS = 120_000;
const RESPOND_ASYNC = /(^|[\s,;])respond-async([\s,;]|$)/i;

/** Multi-timeframe analysis: one symbol on 2 to 4 intervals and how they agree. */
export async function multiTimeframeRoutes(
  app: FastifyInstance,
  ctx: GatewayContext,
  deps: RouteDeps,
): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.post(
    '/v1/analyses/multi-timeframe',
    {
      preHandler: deps.analysisRateLimit,
      schema: {
        tags: ['analyses'],
        operationId: 'createMultiTimeframeAnalysis',
        respondAsync: true,
        summary: 'Analyse one symbol on 2 to 4 intervals, with their confluence',
        description:
          'Draws one chart per interval and analyses each; every chart and every analysis counts against the ' +
          'quotas, and when they cannot all be covered the answer is 402 and nothing is started. Waits up to ' +
          '`wait` seconds (default 30) for every analysis: 200 with the items and the confluence (the lowest ' +
          "interval's direction, the share of intervals agreeing with it, and its entry, stop and target only " +
          'when every higher interval agrees; otherwise NEUTRAL with null levels). With `wait=0`, ' +
          '`Prefer: respond-async`, or when the wait runs out, 202 with a `Location` to poll ' +
          '(`GET /v1/analyses/multi-timeframe/:id`). The analyses also appear in `GET /v1/analyses`.',
        querystring: AnalyzeQuery,
        body: MultiTimeframeRequest,
        response: {
          200: successResponse(MultiTimeframeResponseData),
          202: successResponse(MultiTimeframeAccepted),
        },
      },
    },
    async (req, reply) => {
      const caller = requireCaller(req);
      const respondAsync = RESPOND_ASYNC.test(String(req.headers.prefer ?? ''));
      const waitMs = respondAsync ? 0 : req.query.wait * 1000;
      const created = await callRpc(
        ctx.bus,
        MultiTimeframeCreate,
        { userId: caller.id, request: req.body, idempotencyKey: req.idempotency?.workId },
        { timeoutMs: CREATE_TIMEOUT_MS },
      );
      // The ledger's analyses come from each `analysis.completed` (quota-service), as for analyze.
      req.usage = { chartsGenerated: created.items.length };
      // As analyze: without a wait the answer is 202, even for a run a replay finds settled.
      const run =
        waitMs > 0 && created.status === 'running'
          ? await ctx.multiTimeframe.outcome(caller.id, created.id, waitMs, ctx.draining)
          : created;
      if (waitMs > 0 && run.status !== 'running')
        return reply.code(200).send({ success: true as const, data: { ...run, quota: created.quota } });
      if (respondAsync) reply.header('preference-applied', 'respond-async');
      return reply
        .code(202)
        .header('location', `/v1/analyses/multi-timeframe/${created.id}`)
        .send({ success: true as const, data: { id: created.id, status: run.status } });
    },
  );

  r.get(
    '/v1/analyses/multi-timeframe',
    {
      schema: {
        tags: ['analyses'],
        operationId: 'listMultiTimeframeAnalyses',
        summary: "The caller's multi-timeframe analyses, newest first",
        querystring: MultiTimeframeListQuery,
        response: { 200: successResponse(MultiTimeframeListResponse) },
      },
    },
    async (req) => {
      const caller = requireCaller(req);
      const data = await callRpc(ctx.bus, MultiTimeframeList, { userId: caller.id, ...req.query });
      return { success: true as const, data };
    },
  );

  r.get(
    '/v1/analyses/multi-timeframe/:id',
    {
      schema: {
        tags: ['analyses'],
        operationId: 'getMultiTimeframeAnalysis',
        summary: 'One multi-timeframe analysis: its items and, once settled, the confluence',
        params: IdParams,
        response: { 200: successResponse(MultiTimeframeRun) },
      },
    },
    async (req) => {
      const caller = requireCaller(req);
      const data = await callRpc(ctx.bus, MultiTimeframeGet, { userId: caller.id, runId: req.params.id });
      return { success: true as const, data };
    },
  );
}
