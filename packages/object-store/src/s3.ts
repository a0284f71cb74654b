import { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
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

type Sdk = typeof import('@aws-sdk/client-s3');

const isNotFound = (err: unknown) => {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
};

/** Objects in an S3 bucket, through any S3-compatible endpoint. */
export class S3ObjectStore implements ObjectStore {
  readonly kind = 's3' as const;
  readonly bucket: string;
  private s3?: Promise<{ sdk: Sdk; client: S3Client }>;
  private bucketReady?: Promise<void>;

  constructor(private readonly opts: S3ObjectStoreOptions) {
    this.bucket = opts.bucket;
  }

  /** The SDK is loaded on first use: it costs ~20 MB, which a process using a folder never pays. */
  private sdk(): Promise<{ sdk: Sdk; client: S3Client }> {
    this.s3 ??= import('@aws-sdk/client-s3').then((sdk) => ({ sdk, client: this.createClient(sdk) }));
    return this.s3;
  }

  private createClient(sdk: Sdk): S3Client {
    const opts = this.opts;
    return new sdk.S3Client({
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
    const { sdk, client } = await this.sdk();
    try {
      await client.send(new sdk.HeadBucketCommand({ Bucket: this.bucket }));
      return;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    try {
      await client.send(new sdk.CreateBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      const name = (err as Error).name;
      if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw err;
    }
  }

  async put(key: string, body: Buffer, contentType: string): Promise<StoredObject> {
    assertKey(key);
    await this.ready();
    const { sdk, client } = await this.sdk();
    await client.send(
      new sdk.PutObjectCommand({
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
    const { sdk, client } = await this.sdk();
    try {
      const res = await client.send(new sdk.GetObjectCommand({ Bucket: this.bucket, Key: key }));
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
    const { sdk, client } = await this.sdk();
    await client.send(new sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  async ping(): Promise<void> {
    await this.ready();
    const { sdk, client } = await this.sdk();
    await client.send(new sdk.HeadBucketCommand({ Bucket: this.bucket }));
  }

  async close(): Promise<void> {
    if (this.s3) (await this.s3).client.destroy();
  }
}
