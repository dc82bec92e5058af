// One lint for the whole tree. The pure zones of DESIGN.md §7 may not touch time, randomness,
// timers, node: modules or the process: those come in as parameters so the cores stay deterministic.
'use strict';
const tseslint = require('typescript-eslint');

const pureZones = [
  'src/lib/**/*.ts',
  'src/types/**/*.ts',
  'src/raft/**/*.ts',
  'src/store/**/*.ts',
  'src/**/core/**/*.ts',
  'src/agent/exec/**/*.ts',
  'src/api/convert/**/*.ts',
];

module.exports = tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'scripts/**', 'bin/**', 'eslint.config.js'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    files: pureZones,
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['node:*', 'fs', 'net', 'http', 'os', 'crypto', 'child_process', 'timers'], message: 'pure zone: no I/O modules (DESIGN.md §7)' }] }],
      'no-restricted-globals': ['error',
        { name: 'setTimeout', message: 'pure zone: time comes in as a parameter' },
        { name: 'setInterval', message: 'pure zone: time comes in as a parameter' },
        { name: 'setImmediate', message: 'pure zone: no timers' },
        { name: 'process', message: 'pure zone: no process' },
      ],
      'no-restricted-syntax': ['error',
        { selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']", message: 'pure zone: use the Clock port' },
        { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'pure zone: use the Clock port' },
        { selector: "CallExpression[callee.object.name='Math'][callee.property.name='random']", message: 'pure zone: use the Rng port' },
      ],
    },
  },
);
