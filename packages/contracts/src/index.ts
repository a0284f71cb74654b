export * from './envelope.js';
export * from './events/index.js';
export * from './rest/account.js';
export * from './rest/analysis.js';
export * from './rest/chart-config.js';
export * from './rest/common.js';
export * from './rpc/index.js';
export * from './subjects.js';
