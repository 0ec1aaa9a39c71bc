/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': 'ts-jest' },
  reporters: ['default', '<rootDir>/tests/summary-reporter.js'],
  setupFiles: ['<rootDir>/tests/setup-env.js'],
  testMatch: ['<rootDir>/tests/**/*.test.ts'],
  // Integration and e2e tests start emulators and servers; give them room on a busy 2-core machine.
  testTimeout: 120_000,
};
