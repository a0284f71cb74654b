import { defineConfig, mergeConfig } from 'vitest/config';
import shared from '../vitest.shared.js';

// Process-level tests: several services per test, so one file at a time.
export default mergeConfig(shared, defineConfig({ test: { fileParallelism: false, testTimeout: 120_000 } }));
