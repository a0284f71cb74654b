import { lazy, meter } from '@chartwright/kit';

/** Analysis latency, from the worker taking the job to its result, by model and outcome. */
export const analysisDuration = lazy(() =>
  meter().createHistogram('chartwright.analysis.duration', {
    unit: 's',
    description: 'Time to analyse a chart (download, readings, model), by model and outcome',
    advice: { explicitBucketBoundaries: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300] },
  }),
);

/** Calls to the analyst (one per attempt), by model and outcome (`ok` or the error code). */
export const modelRequests = lazy(() =>
  meter().createCounter('chartwright.model.requests', {
    description: 'Analyst (model) calls, by model and outcome',
  }),
);

export const modelTokens = lazy(() =>
  meter().createCounter('chartwright.model.tokens', {
    unit: '{token}',
    description: 'Model tokens used (input plus output), by model',
  }),
);

export const modelCost = lazy(() =>
  meter().createCounter('chartwright.model.cost.usd', {
    description: 'Model spend in US dollars (where prices are configured), by model',
  }),
);
