import type { ServiceContext } from '@chartwright/kit';
import type { QuotaConfig } from './config.js';
import type { QuotaDb } from './db/schema.js';

/** Everything quota-service's use cases work with. */
export type QuotaContext = ServiceContext<QuotaDb, QuotaConfig>;
