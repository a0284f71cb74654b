import type {
  AnalysisCompleted,
  AnalysisFailed,
  AnalysisOutcomeResolved,
  ChartGenerated,
  EventOf,
  QuotaThresholdReached,
} from '@chartwright/contracts';

/**
 * What a webhook's `data` carries for each event: enough to act without calling the API back.
 * The bus payloads hold internal fields (reservations, object keys) that are not the client's.
 */
export const webhookData = {
  'analysis.completed': (e: EventOf<typeof AnalysisCompleted>) => ({
    analysisId: e.data.analysisId,
    chartId: e.data.chartId,
    symbol: e.data.symbol,
    interval: e.data.interval,
    trend: e.data.result.trend,
    recommendation: e.data.result.recommendation,
    entryPrice: e.data.result.entryPrice,
    stopLoss: e.data.result.stopLoss,
    takeProfit: e.data.result.takeProfit,
    confidence: e.data.result.confidence,
    riskRewardRatio: e.data.result.riskRewardRatio,
    model: e.data.metadata.model,
    completedAt: e.data.completedAt,
  }),
  'analysis.failed': (e: EventOf<typeof AnalysisFailed>) => ({
    analysisId: e.data.analysisId,
    chartId: e.data.chartId,
    code: e.data.code,
    reason: e.data.reason,
    failedAt: e.data.failedAt,
  }),
  'analysis.outcome_resolved': (e: EventOf<typeof AnalysisOutcomeResolved>) => {
    const { userId: _user, ...data } = e.data;
    return data;
  },
  'chart.generated': (e: EventOf<typeof ChartGenerated>) => ({
    chartId: e.data.chartId,
    symbol: e.data.symbol,
    interval: e.data.interval,
    renderer: e.data.renderer,
    format: e.data.format,
    width: e.data.width,
    height: e.data.height,
    generatedAt: e.data.generatedAt,
  }),
  'quota.threshold_reached': (e: EventOf<typeof QuotaThresholdReached>) => ({
    resource: e.data.resource,
    threshold: e.data.threshold,
    used: e.data.used,
    limit: e.data.limit,
    plan: e.data.plan,
    periodStart: e.data.periodStart,
    resetAt: e.data.resetAt,
  }),
};

/** The body of every delivery: `{type, timestamp, data}`. */
export const webhookBody = (type: string, at: string, data: unknown) =>
  JSON.stringify({ type, timestamp: at, data });
