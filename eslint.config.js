import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: false } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': ['error', { allow: ['warn', 'error'] }],
    },
  },
  {
    // The bin shims are plain Node ESM.
    files: ['bin/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly' } },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      // Workflow code is replayed: no wall clock, randomness or I/O except through the SDK.
      'no-restricted-globals': ['error', 'setTimeout', 'setInterval', 'fetch'],
      // Only the activities' contract (types and constants) may enter the workflow bundle.
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['../activities/*', '!../activities/contract.js', '../lib/*', 'pg', 'node:*', 'fs', 'path'], message: 'workflow code must stay deterministic: no I/O modules' }] },
      ],
    },
  },
);
