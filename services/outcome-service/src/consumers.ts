import { AnalysisCompleted, ChartDeleted } from '@chartwright/contracts';
import { type ConsumerGroup, on } from '@chartwright/kit';
import type { Outcomes } from './outcomes.js';

/** The events outcome-service consumes, by durable consumer. */
export const consumers = (outcomes: Outcomes): ConsumerGroup[] => [
  {
    spec: {
      stream: 'ANALYSES',
      durable: 'outcome-analyses',
      filterSubject: AnalysisCompleted.type,
      concurrency: 4,
    },
    routes: [on(AnalysisCompleted, (e) => outcomes.follow(e.data))],
  },
  {
    spec: { stream: 'CHARTS', durable: 'outcome-charts', filterSubject: ChartDeleted.type },
    routes: [on(ChartDeleted, (e) => outcomes.chartDeleted(e.data.chartId))],
  },
];
