import { PermanentError } from '@chartwright/kit';
import { type DownloadErrorCode, downloadToBuffer, isDownloadError } from '@chartwright/safe-download';
import type { DownloadConfig } from './config.js';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Failures that another try cannot fix: the message is dead-lettered at once. */
const REFUSED = new Set<DownloadErrorCode>([
  'INVALID_URL',
  'SCHEME_NOT_ALLOWED',
  'HOST_NOT_ALLOWED',
  'PRIVATE_ADDRESS',
  'BAD_CONTENT_TYPE',
  'TOO_LARGE',
  'TOO_MANY_REDIRECTS',
]);

export interface ChartImage {
  body: Buffer;
  size: number;
  sha256: string;
  url: string;
}

/**
 * Downloads a chart image from an external URL (a chart-img.com CDN link) under the safety rules
 * of `config`: allowed hosts only (after redirects too), https only, public addresses only, a
 * size cap and a deadline. Refusals, 4xx answers and bodies that are not PNG images throw a
 * `PermanentError`; network trouble, timeouts and 5xx/408/429 throw for a retry.
 */
export async function fetchChartImage(url: string, config: DownloadConfig): Promise<ChartImage> {
  let download: Awaited<ReturnType<typeof downloadToBuffer>>;
  try {
    download = await downloadToBuffer(url, {
      allowedHosts: config.allowedHosts,
      allowHttp: config.allowHttp,
      allowPrivateAddresses: config.allowPrivateAddresses,
      maxBytes: config.maxBytes,
      timeoutMs: config.timeoutMs,
      contentTypes: ['image/png'],
    });
  } catch (err) {
    if (isDownloadError(err)) {
      const status = err.status ?? 0;
      const clientError =
        err.code === 'BAD_STATUS' && status >= 400 && status < 500 && ![408, 429].includes(status);
      if (REFUSED.has(err.code) || clientError)
        throw new PermanentError(`download refused (${err.code}): ${err.message}`, { cause: err });
    }
    throw err;
  }
  if (!download.body.subarray(0, 8).equals(PNG_SIGNATURE))
    throw new PermanentError(`download refused (NOT_PNG): ${download.url} did not return a PNG image`);
  return { body: download.body, size: download.size, sha256: download.sha256, url: download.url };
}
