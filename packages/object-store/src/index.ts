export * from './config.js';
export * from './folder.js';
export * from './types.js';
