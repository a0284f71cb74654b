import { lazy, meter } from '@chartwright/kit';

/** Time to produce a chart image: the built-in renderer's pool, or chart-img.com's storage call. */
export const renderDuration = lazy(() =>
  meter().createHistogram('chartwright.chart.render.duration', {
    unit: 's',
    description: 'Chart render time, by renderer and format',
    advice: { explicitBucketBoundaries: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] },
  }),
);
