import { ChartDeleted, ChartGenerated } from '@chartwright/contracts';
import { makeEvent, ServiceEvents } from '@chartwright/kit';
import type { z } from 'zod';

export const SERVICE = 'chart-service';

/** The one place chart-service builds its events; storing and sending come from `ServiceEvents`. */
export class ChartEvents extends ServiceEvents {
  generated(data: z.input<typeof ChartGenerated.data>) {
    return makeEvent(ChartGenerated, data, { source: SERVICE, subject: data.chartId });
  }

  deleted(data: z.input<typeof ChartDeleted.data>) {
    return makeEvent(ChartDeleted, data, { source: SERVICE, subject: data.chartId });
  }
}
