#!/usr/bin/env node
// psoasview command-line entry point (see src/cli/psoasview.ts). Runs the TypeScript sources directly:
// tsx's ESM loader is registered first, so a checkout needs no build step (`npx psoasview …`).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/psoasview.ts');
process.exitCode = await main(process.argv.slice(2));
