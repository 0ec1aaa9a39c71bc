/**
 * Entry point of the engine-only bundle `npm run bench` builds with esbuild and runs with plain node,
 * so the CPU it measures is the engine's and not tsx compiling TypeScript. Same flags as
 * `npm run bench -- --engine-only` (see engine-only.ts).
 */
import { engineOnlyMain } from './engine-only';

engineOnlyMain(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
