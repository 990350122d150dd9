// One jest, three tiers. ESM-only dependencies (NestJS 12 and friends) are transformed by SWC
// into CommonJS, since Jest 30 on Node 20 cannot load them otherwise.
const { compilerOptions } = require('./tsconfig.base.json');

const moduleNameMapper = Object.fromEntries(
  Object.entries(compilerOptions.paths).map(([alias, [target]]) => [`^${alias}$`, `<rootDir>/${target.replace(/^\.\//, '')}`]),
);
const esmOnly = ['@nestjs', 'file-type', 'strtok3', 'token-types', '@tokenizer', 'uint8array-extras', '@borewit', 'uid', 'load-esm', '@standard-schema', 'jose'];
const swc = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2022',
    keepClassNames: true,
  },
  module: { type: 'commonjs' },
};
const base = {
  rootDir: __dirname,
  testEnvironment: 'node',
  moduleNameMapper,
  transform: {
    '^.+\\.ts$': ['@swc/jest', swc],
    '^.+\\.m?js$': ['@swc/jest', { ...swc, jsc: { ...swc.jsc, parser: { syntax: 'ecmascript' } } }],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${esmOnly.join('|')})/)`],
  setupFiles: ['reflect-metadata'],
  // In the project, not the system's temporary directory: each run gets a temporary directory of its own
  // (scripts/support/jest-run-tmp.cjs), removed after it, which would throw the transform cache away every run.
  cacheDirectory: '<rootDir>/node_modules/.cache/jest',
};

module.exports = {
  // Each run's temporary files in a directory of its own, removed when the run passes (scripts/support/jest-run-tmp.cjs).
  reporters: ['default', '<rootDir>/scripts/support/jest-run-tmp.cjs'],
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs,scripts}/**/*.spec.ts'], testPathIgnorePatterns: ['\\.int\\.spec\\.ts$', '/node_modules/'] },
    { ...base, displayName: 'integration', testMatch: ['<rootDir>/{apps,libs}/**/*.int.spec.ts'] },
    { ...base, displayName: 'e2e', testMatch: ['<rootDir>/test/**/*.e2e.spec.ts'] },
  ],
};
