import { AnalysisGet, type AnalysisRecord } from '@chartwright/contracts';
import { createLogger, handle, MemoryBus, newId, ServiceError } from '@chartwright/kit';
import { afterAll, describe, expect, it } from 'vitest';
import { AnalysisWatch } from '../src/analysis-watch.js';

const logger = createLogger('test', 'silent');

describe('AnalysisWatch', () => {
  const bus = new MemoryBus(logger);
  afterAll(() => bus.close());

  it('after missed events, one read per listened analysis delivers its outcome', async () => {
    const userId = newId();
    const analysisId = newId();
    const now = new Date().toISOString();
    const record: AnalysisRecord = {
      id: analysisId,
      chartId: newId(),
      userId,
      status: 'completed',
      symbol: 'BINANCE:BTCUSDT',
      interval: '4h',
      prompt: null,
      options: { includeRiskManagement: true, tradingStyle: 'swing_trading', confidenceThreshold: null },
      result: {
        trend: 'neutral',
        signals: ['RSI(14) 50'],
        recommendation: 'NEUTRAL',
        entryPrice: null,
        stopLoss: null,
        takeProfit: null,
        riskRewardRatio: null,
        confidence: 4,
        analysisText: 'No edge.',
        keyLevels: { support: [], resistance: [] },
        warnings: [],
      },
      metadata: { model: 'm', tokensUsed: 7, processingTime: 1 },
      error: null,
      createdAt: now,
      downloadingAt: now,
      analysingAt: now,
      completedAt: now,
    };
    let reads = 0;
    const sub = await handle(AnalysisGet, async (req) => {
      reads++;
      if (req.analysisId !== analysisId || req.userId !== userId) throw new ServiceError('NOT_FOUND', 'no');
      return record;
    }).serve(bus, 'analysis-service', logger);
    try {
      const watch = new AnalysisWatch(bus, logger);
      // The completion event was missed (no event reaches this watch at all).
      const outcome = watch.outcome(userId, analysisId, 5_000);
      const steps: string[] = [];
      const stop = watch.listen(userId, analysisId, (s) => steps.push(s.status));
      await watch.catchUp();
      expect(await outcome).toMatchObject({ status: 'completed', metadata: { tokensUsed: 7 } });
      expect(steps).toEqual(['queued', 'downloading', 'analysing', 'completed']);
      expect(reads).toBe(1);
      stop();
    } finally {
      await sub.stop();
    }
  });
});
