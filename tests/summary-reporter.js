/**
 * Ends the run with one plain line, "jest: N passed, N failed, N skipped", that tools reading test
 * output understand without knowing Jest's format. Jest prints its own summary after every custom
 * reporter, so the line is written when the process exits, straight to fd 2 (the summary's stream).
 */
const { writeSync } = require('node:fs');

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const line = `jest: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${skipped} skipped\n`;
    process.once('exit', () => writeSync(2, line));
  }
}

module.exports = SummaryReporter;
