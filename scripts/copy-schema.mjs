// The build's last step: tsc compiles src/ into dist/ but leaves the
// schema's .sql files behind; migrate() reads them beside its module.
import { cpSync } from 'node:fs';

cpSync('src/catalog/schema', 'dist/catalog/schema', {
  recursive: true,
  filter: (source) => !source.endsWith('.ts'),
});
