#!/usr/bin/env node

// Runs the TypeScript CLI in this process (tsx's loader registered here, as `node --import tsx` does), so
// a SIGINT or SIGTERM sent to this PID reaches the CLI's handlers: a child process would be orphaned and
// finish the load.
const { pathToFileURL } = require('node:url');
const { join } = require('node:path');

import(pathToFileURL(require.resolve('tsx')).href).then(
  () => require(join(__dirname, '..', 'src', 'local', 'cli.ts')).runCli(process.argv.slice(2)),
  (error) => {
    process.stderr.write(`apiloadtest: cannot load tsx: ${error.message}\n`);
    process.exit(2);
  },
);
