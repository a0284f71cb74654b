import {
  AnalysisExportPage,
  AnalysisGet,
  AnalysisList,
  AnalysisListForChart,
  AnalysisRequest,
} from '@chartwright/contracts';
import { handle, type RpcRoute } from '@chartwright/kit';
import type { Kysely } from 'kysely';
import type { Analyses } from './analyses.js';
import type { AnalysisDb } from './db/schema.js';
import { exportPage } from './exports.js';

/** Each request/reply contract analysis-service answers, and the use case that answers it. */
export const handlers = (analyses: Analyses, db: Kysely<AnalysisDb>): RpcRoute[] => [
  handle(AnalysisRequest, (req) => analyses.request(req)),
  handle(AnalysisGet, (req) => analyses.get(req.userId, req.analysisId)),
  handle(AnalysisList, (req) => analyses.list(req)),
  handle(AnalysisListForChart, (req) => analyses.listForChart(req)),
  handle(AnalysisExportPage, (req) => exportPage(db, req)),
];
