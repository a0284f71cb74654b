#!/usr/bin/env node
// The stdio MCP server: `pnpm mcp`, configured by CHARTWRIGHT_URL and CHARTWRIGHT_API_KEY.
import { Chartwright } from '@chartwright/sdk';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { createMcpServer } from './index.js';

const client = new Chartwright({
  baseUrl: process.env.CHARTWRIGHT_URL || 'http://127.0.0.1:3000',
  apiKey: process.env.CHARTWRIGHT_API_KEY,
});
await createMcpServer(client).connect(new StdioServerTransport());
