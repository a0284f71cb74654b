import {
  ChartCompare,
  CompareChartsRequest,
  GenerateChartResponse,
  successResponse,
} from '@chartwright/contracts';
import { callRpc } from '@chartwright/kit';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { requireCaller } from '../auth/authenticate.js';
import type { GatewayContext } from '../context.js';
import type { RouteDeps } from './deps.js';

const COMPARE_TIMEOUT_MS = 60_000;

/** `POST /v1/charts/compare`: 2 to 4 symbols on one chart, counted as one chart. */
export async function compareRoutes(
  app: FastifyInstance,
  ctx: GatewayContext,
  deps: RouteDeps,
): Promise<void> {
  app.withTypeProvider<ZodTypeProvider>().post(
    '/v1/charts/compare',
    {
      preHandler: deps.generationRateLimit,
      schema: {
        tags: ['charts'],
        summary: 'Compare 2 to 4 symbols on one chart (overlay or grid)',
        description:
          '`overlay` (default) draws each symbol as a line of its % change from the first bar they share, with a legend; ' +
          '`grid` draws a candle panel per symbol on a shared time axis. Drawn by the built-in renderer; counts as one chart ' +
          'against the quota. An unknown symbol, or symbols whose bars do not overlap in time, is a 400 naming them. ' +
          '`POST /v1/charts/:id/analyze` on it reports relative strength, correlation and beta.',
        body: CompareChartsRequest,
        response: { 201: successResponse(GenerateChartResponse) },
      },
    },
    async (req, reply) => {
      const caller = requireCaller(req);
      const data = await callRpc(
        ctx.bus,
        ChartCompare,
        { userId: caller.id, request: req.body, idempotencyKey: req.idempotency?.workId },
        { timeoutMs: COMPARE_TIMEOUT_MS },
      );
      req.usage = { chartsGenerated: 1 };
      return reply.code(201).send({ success: true, data });
    },
  );
}
