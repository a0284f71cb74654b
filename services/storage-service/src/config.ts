import { ConfigError, env, parseEnv } from '@chartwright/kit';
import { z } from 'zod';

const StorageEnv = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  /** Hosts chart images may be copied from (and redirected to), comma separated; `*.suffix` allowed. */
  STORAGE_DOWNLOAD_ALLOWED_HOSTS: z.string().default('r2.chart-img.com'),
  /** Largest image copied. */
  STORAGE_MAX_DOWNLOAD_BYTES: env.int(10 * 1024 * 1024, 1, 100 * 1024 * 1024),
  /** Deadline for one download, redirects and body included. */
  STORAGE_DOWNLOAD_TIMEOUT_MS: env.int(15_000, 100, 120_000),
  /** Tests only: allow loopback addresses (every allowed host must then be a loopback one). */
  STORAGE_DOWNLOAD_ALLOW_PRIVATE: env.bool(false),
  /** Tests only: allow plain http. */
  STORAGE_DOWNLOAD_ALLOW_HTTP: env.bool(false),
  /** Messages copied at once by this replica. */
  STORAGE_CONCURRENCY: env.int(4, 1, 64),
});

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|::1|\[::1\])$/i;

export function loadStorageConfig(source: Record<string, string | undefined>) {
  const e = parseEnv(StorageEnv, source);
  const allowedHosts = e.STORAGE_DOWNLOAD_ALLOWED_HOSTS.split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  const issues: { variable: string; problem: string }[] = [];
  if (allowedHosts.length === 0)
    issues.push({ variable: 'STORAGE_DOWNLOAD_ALLOWED_HOSTS', problem: 'must name at least one host' });
  if (e.NODE_ENV === 'production') {
    if (e.STORAGE_DOWNLOAD_ALLOW_PRIVATE)
      issues.push({ variable: 'STORAGE_DOWNLOAD_ALLOW_PRIVATE', problem: 'not allowed in production' });
    if (e.STORAGE_DOWNLOAD_ALLOW_HTTP)
      issues.push({ variable: 'STORAGE_DOWNLOAD_ALLOW_HTTP', problem: 'not allowed in production' });
  }
  // The loosening exists for loopback fixtures: it must never open the way to the cloud metadata
  // address or the private network.
  const notLoopback = allowedHosts.filter((h) => !LOOPBACK.test(h));
  if (e.STORAGE_DOWNLOAD_ALLOW_PRIVATE && notLoopback.length)
    issues.push({
      variable: 'STORAGE_DOWNLOAD_ALLOWED_HOSTS',
      problem: `only loopback hosts may be listed with STORAGE_DOWNLOAD_ALLOW_PRIVATE=true (not ${notLoopback.join(', ')})`,
    });
  if (issues.length) throw new ConfigError(issues);
  return {
    download: {
      allowedHosts,
      maxBytes: e.STORAGE_MAX_DOWNLOAD_BYTES,
      timeoutMs: e.STORAGE_DOWNLOAD_TIMEOUT_MS,
      allowPrivateAddresses: e.STORAGE_DOWNLOAD_ALLOW_PRIVATE,
      allowHttp: e.STORAGE_DOWNLOAD_ALLOW_HTTP,
    },
    concurrency: e.STORAGE_CONCURRENCY,
  };
}
export type StorageConfig = ReturnType<typeof loadStorageConfig>;
export type DownloadConfig = StorageConfig['download'];
