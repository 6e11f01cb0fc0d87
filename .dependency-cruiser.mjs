// The import rules of src/ that the tree's layout promises (npm run lint:deps,
// part of npm run lint): no import circles, and the layers point one way —
// the catalog knows neither the engine nor the built-ins, and the engine
// runs the built-in procedure types it is given without importing them.
/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import circle: modules that need each other belong together or need a third module.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'catalog-not-engine-or-builtins',
      severity: 'error',
      comment: 'The schema depends neither on the engine that uses it nor on the built-in types (serve and worker sync those).',
      from: { path: '^src/catalog/' },
      to: { path: '^src/(engine|builtins)/' },
    },
    {
      name: 'engine-not-builtins',
      severity: 'error',
      comment: 'The engine defines the procedure type contract; serve and worker register the built-ins (EngineOptions.procedureTypes).',
      from: { path: '^src/engine/' },
      to: { path: '^src/builtins/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count: a circle of types is still a circle to read.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
