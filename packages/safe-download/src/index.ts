export {
  addressRange,
  isPublicAddress,
  normaliseHostname,
  type ResolvedAddress,
  type Resolver,
  resolveChecked,
  systemResolver,
} from './address.js';
export {
  type BufferDownload,
  DEFAULT_CONTENT_TYPES,
  type DownloadInfo,
  type DownloadOptions,
  downloadToBuffer,
  downloadToFile,
  type FileDownload,
  hostAllowed,
} from './download.js';
export { DownloadError, type DownloadErrorCode, isDownloadError } from './errors.js';
export { type PostOptions, type PostResult, postChecked } from './post.js';
