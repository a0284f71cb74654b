import { v7 } from 'uuid';

/** Time-ordered UUIDv7, used for event ids and primary keys. */
export const newId = (): string => v7();
