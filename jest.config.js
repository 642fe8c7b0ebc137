/** Jest runs the TypeScript sources as native ESM through ts-jest. */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json', diagnostics: { ignoreCodes: ['TS151001'] } }],
  },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 120_000,
  // Integration suites share one dev server per file; two cores fit two files at a time.
  maxWorkers: 2,
};
