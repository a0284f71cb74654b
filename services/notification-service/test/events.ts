import { AnalysisCompleted } from '@chartwright/contracts';
import { makeEvent, newId } from '@chartwright/kit';

/** An `analysis.completed` of `userId`, as analysis-service announces one. */
export function completed(userId: string, over: { symbol?: string; analysisText?: string } = {}) {
  return makeEvent(
    AnalysisCompleted,
    {
      analysisId: newId(),
      chartId: newId(),
      userId,
      reservationId: null,
      symbol: over.symbol ?? 'BINANCE:BTCUSDT',
      interval: '4h',
      result: {
        trend: 'bullish',
        signals: ['higher highs'],
        recommendation: 'LONG',
        entryPrice: 100,
        stopLoss: 95,
        takeProfit: 110,
        confidence: 7,
        analysisText: over.analysisText ?? 'Up we go.',
        keyLevels: { support: [95], resistance: [110] },
        riskRewardRatio: 2,
        warnings: [],
      },
      metadata: { model: 'test-model', tokensUsed: 0, processingTime: 0.1 },
      completedAt: new Date().toISOString(),
    },
    { source: 'test', subject: userId },
  );
}
