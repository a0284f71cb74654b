import type { Instrumentation } from '@opentelemetry/instrumentation';

// On globalThis: the entry's preload and the kit loaded later must see the same list even if a
// loader hands them different module instances.
const KEY = Symbol.for('chartwright.instrumentations');
const store = globalThis as { [KEY]?: Instrumentation[] };

export const setInstrumentations = (list: Instrumentation[]) => {
  store[KEY] = list;
};

/** Instrumentations whose own metrics are not wanted (the kit records the same, with routes). */
export const WITHOUT_METRICS = Symbol.for('chartwright.instrumentation.withoutMetrics');

/** The instrumentations enabled by `@chartwright/kit/instrument`, if it ran. */
export const getInstrumentations = (): Instrumentation[] => store[KEY] ?? [];
