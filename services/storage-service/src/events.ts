import { ChartStored, type DataOf } from '@chartwright/contracts';
import { makeEvent, ServiceEvents } from '@chartwright/kit';

export const SERVICE = 'storage-service';

/** The one place storage-service builds its events; storing and sending come from `ServiceEvents`. */
export class StorageEvents extends ServiceEvents {
  chartStored(data: DataOf<typeof ChartStored>) {
    return makeEvent(ChartStored, data, { source: SERVICE, subject: data.chartId });
  }
}
