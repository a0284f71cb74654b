import type { ServiceContext } from '@chartwright/kit';
import type { ObjectStore } from '@chartwright/object-store';
import type { StorageConfig } from './config.js';
import type { StorageDb } from './db/schema.js';

/** Everything storage-service's use cases work with. */
export interface StorageContext extends ServiceContext<StorageDb, StorageConfig> {
  readonly objects: ObjectStore;
}
