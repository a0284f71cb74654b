import {
  Backtest,
  BacktestCancel,
  BacktestCreate,
  type Backtest as BacktestData,
  BacktestDelete,
  BacktestGet,
  BacktestList,
  BacktestListQuery,
  BacktestListResponse,
  type BacktestProgressEvent,
  type BacktestTrade,
  BacktestTrades,
  ChartConfig,
  ChartRenderBars,
  CreateBacktestRequest,
  DeletedResponse,
  EquityQuery,
  successResponse,
} from '@chartwright/contracts';
import { callRpc } from '@chartwright/kit';
import { equityCurve } from '@chartwright/outcomes';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireCaller } from '../auth/authenticate.js';
import type { GatewayContext } from '../context.js';
import { streamProgress } from '../sse.js';
import type { RouteDeps } from './deps.js';

const IdParams = z.object({ id: z.uuid() });
const RENDER_TIMEOUT_MS = 30_000;
const CREATE_TIMEOUT_MS = 60_000;
const FINAL = new Set(['completed', 'failed', 'cancelled']);
const TRADES_PAGE = 1000;

/** Every trade of a backtest, in step order, read page by page (one page fits a NATS message). */
async function allTrades(ctx: GatewayContext, userId: string, backtestId: string): Promise<BacktestTrade[]> {
  const trades: BacktestTrade[] = [];
  for (;;) {
    const page = await callRpc(ctx.bus, BacktestTrades, {
      userId,
      backtestId,
      offset: trades.length,
      limit: TRADES_PAGE,
    });
    trades.push(...page.trades);
    if (page.trades.length < TRADES_PAGE) return trades;
  }
}

/** Backtests of an analyst over history (analysis-service runs them as durable jobs). */
export async function backtestRoutes(
  app: FastifyInstance,
  ctx: GatewayContext,
  deps: RouteDeps,
): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const openStreams = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of openStreams) end();
  });

  // Trades only grow, in step order: the first `signals` of them are the ones the scorecard
  // counted, so a running backtest's answer agrees with itself.
  const read = async (userId: string, backtestId: string) => {
    const backtest = await callRpc(ctx.bus, BacktestGet, { userId, backtestId });
    const trades = await allTrades(ctx, userId, backtestId);
    return { ...backtest, trades: trades.slice(0, backtest.scorecard.signals) };
  };

  r.post(
    '/v1/backtests',
    {
      preHandler: deps.analysisRateLimit,
      schema: {
        tags: ['backtests'],
        operationId: 'createBacktest',
        summary: 'Backtest an analyst on history',
        description:
          'Queues a durable job that reads the chart a user would have drawn every `step` bars from `from` to `to` ' +
          'with the analyst, and follows each signal to its outcome with the outcome rules. Answers 202 with ' +
          'the backtest and a `Location` to poll (`GET /v1/backtests/:id`) or stream (`GET /v1/backtests/:id/events`). ' +
          'At most 5,000 steps with `builtin`, 200 with `anthropic` (400 naming `step`). Quota: a built-in ' +
          'backtest counts as one analysis, a model backtest one per step, reserved up front (402 when the ' +
          'quota cannot cover it; steps not run are given back). `to` must be after `from`, not in the future, ' +
          'and both within the data (400 naming the field).',
        body: CreateBacktestRequest,
        response: { 202: successResponse(Backtest) },
        errors: ['QUOTA_EXCEEDED'],
      },
    },
    async (req, reply) => {
      const caller = requireCaller(req);
      // analysis-service reads the span's bars to check it: from an exchange, a long span takes a while.
      const backtest = await callRpc(
        ctx.bus,
        BacktestCreate,
        { userId: caller.id, request: req.body, idempotencyKey: req.idempotency?.workId },
        { timeoutMs: CREATE_TIMEOUT_MS },
      );
      return reply
        .code(202)
        .header('location', `/v1/backtests/${backtest.id}`)
        .send({ success: true as const, data: backtest });
    },
  );

  r.get(
    '/v1/backtests',
    {
      schema: {
        tags: ['backtests'],
        summary: "The caller's backtests, newest first (without trades)",
        querystring: BacktestListQuery,
        response: { 200: successResponse(BacktestListResponse) },
      },
    },
    async (req) => {
      const caller = requireCaller(req);
      const { limit, offset } = req.query;
      const page = await callRpc(ctx.bus, BacktestList, { userId: caller.id, limit, offset });
      return {
        success: true as const,
        data: {
          backtests: page.backtests,
          pagination: {
            total: page.total,
            limit,
            offset,
            hasMore: offset + page.backtests.length < page.total,
          },
        },
      };
    },
  );

  r.get(
    '/v1/backtests/:id',
    {
      schema: {
        tags: ['backtests'],
        summary: 'A backtest: status, progress, scorecard, trades and baselines',
        description:
          'The scorecard has the shape of `GET /v1/scorecard` and covers the trades so far. `baselines` ' +
          '(once completed): buy-and-hold over the steps, and a random baseline with as many trades, the same ' +
          'side mix and stop/target distances at random steps (seeded; the seed is given).',
        params: IdParams,
        response: { 200: successResponse(Backtest) },
      },
    },
    async (req) => {
      const caller = requireCaller(req);
      return { success: true as const, data: await read(caller.id, req.params.id) };
    },
  );

  r.post(
    '/v1/backtests/:id/cancel',
    {
      schema: {
        tags: ['backtests'],
        summary: 'Cancel a queued or running backtest',
        description:
          'The job stops at its next step; the trades so far stay. Only the analyses used are charged. A ' +
          'finished backtest is 409.',
        params: IdParams,
        response: { 200: successResponse(Backtest) },
        errors: ['CONFLICT'],
      },
    },
    async (req) => {
      const caller = requireCaller(req);
      await callRpc(ctx.bus, BacktestCancel, { userId: caller.id, backtestId: req.params.id });
      return { success: true as const, data: await read(caller.id, req.params.id) };
    },
  );

  r.delete(
    '/v1/backtests/:id',
    {
      schema: {
        tags: ['backtests'],
        summary: 'Delete a backtest and its trades (an unfinished one is cancelled first)',
        params: IdParams,
        response: { 200: DeletedResponse },
      },
    },
    async (req) => {
      const caller = requireCaller(req);
      await callRpc(ctx.bus, BacktestDelete, { userId: caller.id, backtestId: req.params.id });
      return {
        success: true as const,
        data: { id: req.params.id, deleted: true as const },
        message: 'Backtest deleted successfully',
      };
    },
  );

  r.get(
    '/v1/backtests/:id/equity',
    {
      schema: {
        tags: ['backtests'],
        summary: "A backtest's equity curve in R, drawn by the built-in renderer",
        description:
          'Cumulative R of the trades in exit order (0 before the first), as a line; `png` (default) or `svg`.',
        params: IdParams,
        querystring: EquityQuery,
        produces: ['image/png', 'image/svg+xml'],
      },
    },
    async (req, reply) => {
      const caller = requireCaller(req);
      const { format } = req.query;
      const backtest = await read(caller.id, req.params.id);
      const curve = equityCurve(
        backtest.trades.map((t) => ({
          recommendation: t.recommendation,
          confidence: t.confidence,
          status: t.outcome,
          rMultiple: t.rMultiple,
          forwardReturn: t.forwardReturn,
          exitAt: t.exitAt === null ? null : Date.parse(t.exitAt),
        })),
      );
      // One point per exit time (trades closing together), starting at 0 at the first step.
      const points = new Map<number, number>([[Date.parse(backtest.trades[0]?.at ?? backtest.from), 0]]);
      for (const p of curve) points.set(p.at, p.equity);
      if (points.size === 1) points.set(Date.parse(backtest.to), 0);
      const bars = [...points]
        .sort((a, b) => a[0] - b[0])
        .map(([time, v]) => ({ time, open: v, high: v, low: v, close: v, volume: 0 }));
      const rendered = await callRpc(
        ctx.bus,
        ChartRenderBars,
        {
          config: ChartConfig.parse({
            symbol: backtest.symbol,
            interval: backtest.interval,
            style: 'line',
            format,
          }),
          bars,
          label: `Equity (R) of backtest ${backtest.symbol}`,
          valueLabel: 'R',
        },
        { timeoutMs: RENDER_TIMEOUT_MS },
      );
      return reply
        .header('content-type', rendered.contentType)
        .header('cache-control', 'private, no-store')
        .header('x-content-type-options', 'nosniff')
        .send(rendered.encoding === 'base64' ? Buffer.from(rendered.data, 'base64') : rendered.data);
    },
  );

  r.get(
    '/v1/backtests/:id/events',
    {
      schema: {
        tags: ['backtests'],
        operationId: 'streamBacktestEvents',
        produces: ['text/event-stream'],
        summary: "A backtest's progress as Server-Sent Events",
        description:
          'A `text/event-stream`: an event named after the status (`queued`, `running`, then `completed`, ' +
          '`failed` or `cancelled`) with JSON `data` `{backtestId, status, done, total, at}`, at most about one ' +
          'a second while it runs. The stream ends after the final event; for a finished backtest it sends that at once.',
        params: IdParams,
      },
    },
    async (req, reply) => {
      const caller = requireCaller(req);
      const backtestId = req.params.id;
      let done = -1;
      await streamProgress<BacktestProgressEvent, BacktestData>(reply, openStreams, {
        listen: (fn) => ctx.backtests.listen(caller.id, backtestId, fn),
        read: () => callRpc(ctx.bus, BacktestGet, { userId: caller.id, backtestId }),
        replay: (b) => [
          {
            backtestId,
            status: b.status,
            done: b.progress.done,
            total: b.progress.total,
            at: b.finishedAt ?? b.startedAt ?? b.createdAt,
          },
        ],
        accept: (e) => {
          const final = FINAL.has(e.status);
          // Progress only moves forward; the final event always goes out.
          if (!final && e.done <= done) return undefined;
          done = e.done;
          return { name: e.status, final };
        },
      });
    },
  );
}
