export * from './config.js';
export * from './folder.js';
export * from './s3.js';
export * from './signing.js';
export * from './types.js';
