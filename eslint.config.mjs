import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

export default [
  { ignores: ['**/dist', '**/node_modules', '**/.nx', '**/tmp', '**/.optex', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    // Nest injects by the constructor's parameter types: tell the type-import rule they are values.
    languageOptions: { parserOptions: { emitDecoratorMetadata: true, experimentalDecorators: true } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { disallowTypeAnnotations: false }],
      // The build re-exports values through barrels (scripts/support/swc-build.mjs): a reassigned export would not reach them.
      'no-restricted-syntax': [
        'error',
        { selector: "ExportNamedDeclaration > VariableDeclaration[kind!='const']", message: 'export a const: the build copies re-exported values, so a reassigned export would not reach importers (scripts/support/swc-build.mjs)' },
      ],
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints: [
            { sourceTag: 'type:domain', onlyDependOnLibsWithTags: [] },
            { sourceTag: 'type:port', onlyDependOnLibsWithTags: ['type:domain'] },
            { sourceTag: 'type:platform', onlyDependOnLibsWithTags: ['type:domain', 'type:port', 'type:platform'] },
            { sourceTag: 'type:service', onlyDependOnLibsWithTags: ['type:domain', 'type:port', 'type:service'] },
            { sourceTag: 'type:runtime', onlyDependOnLibsWithTags: ['type:domain', 'type:port', 'type:platform', 'type:service'] },
            { sourceTag: 'type:api', onlyDependOnLibsWithTags: ['type:domain', 'type:port', 'type:platform', 'type:service', 'type:runtime'] },
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:domain', 'type:port', 'type:platform', 'type:service', 'type:runtime', 'type:api', 'type:testing'] },
            { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:domain', 'type:port', 'type:platform', 'type:service', 'type:runtime', 'type:testing'] },
          ],
        },
      ],
    },
  },
  {
    // Tests may use the testing library (fixtures, contract suites, launchers) whatever layer they test.
    files: ['**/*.spec.ts', 'test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints: [
            { sourceTag: 'type:domain', onlyDependOnLibsWithTags: ['type:testing'] },
            { sourceTag: 'type:port', onlyDependOnLibsWithTags: ['type:domain', 'type:testing'] },
            { sourceTag: 'type:platform', onlyDependOnLibsWithTags: ['type:domain', 'type:port', 'type:platform', 'type:testing'] },
            { sourceTag: 'type:service', onlyDependOnLibsWithTags: ['type:domain', 'type:port', 'type:service', 'type:platform', 'type:testing'] },
            { sourceTag: 'type:runtime', onlyDependOnLibsWithTags: ['type:domain', 'type:port', 'type:platform', 'type:service', 'type:testing'] },
            { sourceTag: 'type:api', onlyDependOnLibsWithTags: ['type:domain', 'type:port', 'type:platform', 'type:service', 'type:runtime', 'type:testing'] },
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:domain', 'type:port', 'type:platform', 'type:service', 'type:runtime', 'type:api', 'type:testing'] },
            { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:domain', 'type:port', 'type:platform', 'type:service', 'type:runtime', 'type:testing'] },
          ],
        },
      ],
    },
  },
];
