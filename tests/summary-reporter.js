/**
 * Ends the run with one plain line, "jest: N passed, N failed, N skipped", that tools reading test
 * output understand without knowing Jest's format. It goes straight to fd 2, after Jest's own summary
 * on the same stream (Jest wraps process.stderr while it reports).
 */
const { writeSync } = require('node:fs');

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    writeSync(2, `jest: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${skipped} skipped\n`);
  }
}

module.exports = SummaryReporter;
