import { AnalysisCompleted, ChartStored } from '@chartwright/contracts';
import { type ConsumerGroup, on } from '@chartwright/kit';
import { ANALYSES_CONSUMER, type Charts } from './charts.js';

/** The events chart-service consumes, by durable consumer. */
export const consumers = (charts: Charts): ConsumerGroup[] => [
  {
    spec: { stream: 'CHARTS', durable: 'chart-stored', filterSubject: ChartStored.type },
    routes: [on(ChartStored, (e) => charts.markStored(e.data.chartId, e.data.userId, e.data.objectKey))],
  },
  // analysesCount counts completed analyses; the inbox keeps a redelivery from counting twice.
  {
    spec: { stream: 'ANALYSES', durable: ANALYSES_CONSUMER, filterSubject: AnalysisCompleted.type },
    routes: [on(AnalysisCompleted, (e) => charts.analysisCompleted(e.id, e.data.chartId, e.data.userId))],
  },
];
