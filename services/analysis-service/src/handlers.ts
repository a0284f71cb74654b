import {
  AnalysisExportPage,
  AnalysisGet,
  AnalysisList,
  AnalysisListForChart,
  AnalysisRequest,
  BacktestCancel,
  BacktestCreate,
  BacktestDelete,
  BacktestGet,
  BacktestList,
  BacktestTrades,
  MultiTimeframeCreate,
  MultiTimeframeGet,
  MultiTimeframeList,
} from '@chartwright/contracts';
import { handle, type RpcRoute } from '@chartwright/kit';
import type { Kysely } from 'kysely';
import type { Analyses } from './analyses.js';
import type { Backtests } from './backtests.js';
import type { AnalysisDb } from './db/schema.js';
import { exportPage } from './exports.js';
import type { MultiTimeframe } from './multi-timeframe.js';

/** Each request/reply contract analysis-service answers, and the use case that answers it. */
export const handlers = (
  analyses: Analyses,
  multiTimeframe: MultiTimeframe,
  backtests: Backtests,
  db: Kysely<AnalysisDb>,
): RpcRoute[] => [
  handle(AnalysisRequest, (req) => analyses.request(req)),
  handle(AnalysisGet, (req) => analyses.get(req.userId, req.analysisId)),
  handle(AnalysisList, (req) => analyses.list(req)),
  handle(AnalysisListForChart, (req) => analyses.listForChart(req)),
  handle(AnalysisExportPage, (req) => exportPage(db, req)),
  handle(MultiTimeframeCreate, (req) => multiTimeframe.create(req)),
  handle(MultiTimeframeGet, (req) => multiTimeframe.get(req.userId, req.runId)),
  handle(MultiTimeframeList, ({ userId, limit, offset }) => multiTimeframe.list({ userId, limit, offset })),
  handle(BacktestCreate, (req) => backtests.create(req.userId, req.request, req.idempotencyKey)),
  handle(BacktestGet, (req) => backtests.get(req.userId, req.backtestId)),
  handle(BacktestTrades, (req) => backtests.trades(req)),
  handle(BacktestList, (req) => backtests.list(req)),
  handle(BacktestCancel, (req) => backtests.cancel(req.userId, req.backtestId)),
  handle(BacktestDelete, async (req) => {
    await backtests.delete(req.userId, req.backtestId);
    return { deleted: true as const };
  }),
];
