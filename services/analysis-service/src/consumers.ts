import {
  AnalysisCompleted,
  AnalysisFailed,
  AnalysisRequested,
  ChartDeleted,
  ChartGenerated,
  ChartStored,
} from '@chartwright/contracts';
import { type ConsumerGroup, on } from '@chartwright/kit';
import { type Analyses, CHARTS_CONSUMER } from './analyses.js';
import type { AnalysisConfig } from './config.js';
import { MULTI_TIMEFRAME_CONSUMER, type MultiTimeframe } from './multi-timeframe.js';
import type { AnalysisWorker } from './worker.js';

export const WORKERS_DURABLE = 'analysis-workers';

/** Deliveries of one job: room beyond the retry bound for deliveries lost to crashed workers. */
export const maxDeliverFor = (config: AnalysisConfig) => config.maxAttempts + 3;

/** The events analysis-service consumes, by durable consumer. */
export const consumers = (
  analyses: Analyses,
  worker: AnalysisWorker,
  config: AnalysisConfig,
  multiTimeframe: MultiTimeframe,
): ConsumerGroup[] => [
  {
    spec: { stream: 'CHARTS', durable: CHARTS_CONSUMER, filterSubject: 'chart.>', concurrency: 4 },
    routes: [
      on(ChartGenerated, (e) => analyses.chartGenerated(e.id, e.data)),
      on(ChartStored, (e) => analyses.chartStored(e.data)),
      on(ChartDeleted, (e) => analyses.chartDeleted(e.id, e.data.chartId, e.data.userId)),
    ],
  },
  {
    spec: {
      stream: 'ANALYSES',
      durable: WORKERS_DURABLE,
      filterSubject: AnalysisRequested.type,
      concurrency: config.concurrency,
      // A model call takes seconds: no job waits for a slot with its ack wait running.
      longJobs: true,
      ackWaitMs: config.ackWaitMs,
      backoffMs: config.retryBackoffMs,
      maxDeliver: maxDeliverFor(config),
    },
    routes: [on(AnalysisRequested, (e, d) => worker.handle(e.data, d))],
  },
  // A multi-timeframe run is settled when the last of its analyses is final.
  {
    spec: { stream: 'ANALYSES', durable: MULTI_TIMEFRAME_CONSUMER, filterSubject: 'analysis.>' },
    routes: [
      on(AnalysisCompleted, (e) => multiTimeframe.analysisSettled(e.data.analysisId)),
      on(AnalysisFailed, (e) => multiTimeframe.analysisSettled(e.data.analysisId)),
    ],
  },
];
