import path from 'node:path';
import { FolderObjectStore } from './folder.js';
import { S3ObjectStore, type S3ObjectStoreOptions } from './s3.js';
import { type ObjectStore, ObjectStoreError } from './types.js';

type Env = Record<string, string | undefined>;

const configError = (variable: string, problem: string) =>
  new ObjectStoreError('INVALID_CONFIG', `${variable}: ${problem}`);

/** Empty strings count as unset, as in the kit's `parseEnv`. */
const read = (env: Env, name: string): string | undefined => {
  const v = env[name]?.trim();
  return v ? v : undefined;
};

function readBool(env: Env, name: string, fallback: boolean): boolean {
  const v = read(env, name)?.toLowerCase();
  if (v === undefined) return fallback;
  if (['true', '1', 'yes'].includes(v)) return true;
  if (['false', '0', 'no'].includes(v)) return false;
  throw configError(name, 'must be true or false');
}

// S3's naming rules for new buckets (lower case, 3–63 characters, no leading/trailing dot or dash).
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * S3 settings from `S3_BUCKET`, `S3_ENDPOINT`, `S3_REGION` (default us-east-1),
 * `S3_ACCESS_KEY_ID` + `S3_SECRET_ACCESS_KEY` (both or neither: neither uses the SDK's default
 * credential chain), `S3_FORCE_PATH_STYLE` (default true when an endpoint is set) and
 * `S3_CREATE_BUCKET` (default false). Errors name the variable.
 */
export function s3OptionsFromEnv(env: Env): S3ObjectStoreOptions {
  const bucket = read(env, 'S3_BUCKET');
  if (!bucket) throw configError('S3_BUCKET', 'required');
  if (!BUCKET.test(bucket) || bucket.includes('..'))
    throw configError('S3_BUCKET', 'must be 3-63 lower-case letters, digits, dots or dashes');
  const endpoint = read(env, 'S3_ENDPOINT');
  if (endpoint !== undefined) {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw configError('S3_ENDPOINT', 'must be a URL, e.g. http://127.0.0.1:9000');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw configError('S3_ENDPOINT', 'must be an http or https URL');
  }
  const region = read(env, 'S3_REGION') ?? 'us-east-1';
  if (!/^[a-z0-9-]{2,32}$/.test(region)) throw configError('S3_REGION', 'must look like us-east-1');
  const accessKeyId = read(env, 'S3_ACCESS_KEY_ID');
  const secretAccessKey = read(env, 'S3_SECRET_ACCESS_KEY');
  if (accessKeyId && !secretAccessKey)
    throw configError('S3_SECRET_ACCESS_KEY', 'required when S3_ACCESS_KEY_ID is set');
  if (secretAccessKey && !accessKeyId)
    throw configError('S3_ACCESS_KEY_ID', 'required when S3_SECRET_ACCESS_KEY is set');
  return {
    bucket,
    region,
    endpoint,
    forcePathStyle: readBool(env, 'S3_FORCE_PATH_STYLE', endpoint !== undefined),
    credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined,
    createBucket: readBool(env, 'S3_CREATE_BUCKET', false),
  };
}

/**
 * The object store from the environment: S3 when `S3_BUCKET` is set (see `s3OptionsFromEnv`),
 * otherwise a folder under `DATA_DIR/objects`.
 */
export function openObjectStore(env: Env): ObjectStore {
  if (read(env, 'S3_BUCKET')) return new S3ObjectStore(s3OptionsFromEnv(env));
  return new FolderObjectStore(path.resolve(env.DATA_DIR ?? '.data', 'objects'));
}
