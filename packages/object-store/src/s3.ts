import { Readable } from 'node:stream';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { assertKey, type ObjectBody, type ObjectStore, type StoredObject } from './types.js';

export interface S3ObjectStoreOptions {
  bucket: string;
  region: string;
  /** Any S3-compatible endpoint (MinIO, R2, s3rver…); unset means AWS. */
  endpoint?: string;
  forcePathStyle: boolean;
  /** Static credentials; unset means the SDK's default chain (IAM role, web identity, …). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Create the bucket before first use when it does not exist (tests, docker-compose). */
  createBucket?: boolean;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
}

const isNotFound = (err: unknown) =>
  err instanceof S3ServiceException &&
  (err.name === 'NoSuchKey' || err.name === 'NotFound' || err.$metadata.httpStatusCode === 404);

/** Objects in an S3 bucket, through any S3-compatible endpoint. */
export class S3ObjectStore implements ObjectStore {
  readonly kind = 's3' as const;
  readonly bucket: string;
  private readonly client: S3Client;
  private bucketReady?: Promise<void>;

  constructor(private readonly opts: S3ObjectStoreOptions) {
    this.bucket = opts.bucket;
    this.client = new S3Client({
      region: opts.region,
      endpoint: opts.endpoint,
      forcePathStyle: opts.forcePathStyle,
      credentials: opts.credentials,
      // By default the SDK sends streamed bodies aws-chunked with a CRC32 trailer, which several
      // S3-compatible servers (s3rver among them) store verbatim, framing and all.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        connectionTimeout: opts.connectionTimeoutMs ?? 5_000,
        requestTimeout: opts.requestTimeoutMs ?? 30_000,
      },
    });
  }

  /** Resolves once the bucket exists (only checked when `createBucket` is set). */
  private ready(): Promise<void> {
    if (!this.opts.createBucket) return Promise.resolve();
    this.bucketReady ??= this.ensureBucket().catch((err) => {
      this.bucketReady = undefined; // try again next time
      throw err;
    });
    return this.bucketReady;
  }

  /** Creates the bucket if it does not exist; a concurrent creation by another process is fine. */
  async ensureBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    try {
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      const name = (err as Error).name;
      if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw err;
    }
  }

  async put(key: string, body: Buffer, contentType: string): Promise<StoredObject> {
    assertKey(key);
    await this.ready();
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentType: contentType,
        ContentLength: body.length,
      }),
    );
    return { key, size: body.length, contentType };
  }

  async get(key: string): Promise<ObjectBody | null> {
    assertKey(key);
    await this.ready();
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      const body = res.Body;
      if (!(body instanceof Readable)) throw new Error('S3 returned no readable body');
      return {
        key,
        size: res.ContentLength ?? 0,
        contentType: res.ContentType ?? 'application/octet-stream',
        body,
      };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    assertKey(key);
    await this.ready();
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  async ping(): Promise<void> {
    await this.ready();
    await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
