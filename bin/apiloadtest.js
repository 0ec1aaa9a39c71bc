#!/usr/bin/env node

// Runs the TypeScript CLI through tsx, so the installed bin and `npm run local` run the same code.
const { spawnSync } = require('node:child_process');
const { join } = require('node:path');

const tsx = require.resolve('tsx/cli');
const result = spawnSync(
  process.execPath,
  [tsx, join(__dirname, '..', 'src', 'local', 'cli.ts'), ...process.argv.slice(2)],
  {
    stdio: 'inherit',
  },
);
process.exit(result.status ?? 2);
