import type { Readable } from 'node:stream';

export interface StoredObject {
  key: string;
  size: number;
  contentType: string;
}

export interface ObjectBody extends StoredObject {
  body: Readable;
}

/**
 * Where chart images live: an S3 bucket (any S3-compatible endpoint) or, embedded, a folder.
 * Keys look like `users/{userId}/charts/{chartId}.png`.
 */
export interface ObjectStore {
  readonly kind: 's3' | 'folder';
  put(key: string, body: Buffer, contentType: string): Promise<StoredObject>;
  /** `null` when there is no such object. */
  get(key: string): Promise<ObjectBody | null>;
  /** Deleting a missing object is not an error. */
  delete(key: string): Promise<void>;
  ping(): Promise<void>;
  close?(): Promise<void>;
}

export class ObjectStoreError extends Error {
  constructor(
    readonly code: 'INVALID_KEY' | 'INVALID_CONFIG' | 'UNAVAILABLE',
    message: string,
  ) {
    super(message);
    this.name = 'ObjectStoreError';
  }
}

const KEY = /^(?!.*\.\.)(?!\/)[A-Za-z0-9!_.*'()/-]{1,1024}$/;

/** Keys are relative, with no `..`, so a folder store cannot be walked out of. */
export const isValidKey = (key: string): boolean => KEY.test(key) && !key.includes('//');

export function assertKey(key: string): void {
  if (!isValidKey(key)) throw new ObjectStoreError('INVALID_KEY', `invalid object key: ${key}`);
}

export const chartObjectKey = (userId: string, chartId: string, ext: 'png' | 'svg') =>
  `users/${userId}/charts/${chartId}.${ext}`;
