import { executeAsRole } from '../../engine/as-caller.js';
import { loadClassifier } from './classifier/stored-model.js';
import { sqlIdentifier } from './sql-quoting.js';
import { nonNumericColumns } from './staged-rows.js';
import { existingModelParameter, TEST_DATA_PARAMETER } from './training-parameters.js';
import type { ProcedureType } from '../../engine/procedure-type.js';
import { TypeParameterError } from '../../engine/type-parameter-error.js';

/** The columns a confusion-matrix INTO table must have (by name). */
const MATRIX_COLUMNS = ['actual', 'predicted', 'n'] as const;

interface ClassMetrics {
  class: string;
  precision: number | null;
  recall: number | null;
  f1: number | null;
  support: number;
}

/**
 * `classifier.test` (MLDB's name): evaluates a model of procgate.models on
 * the TABLE `test_data` (the model's feature columns, by name, and the
 * label column) with the JavaScript model: accuracy and per-class
 * precision, recall and F1 in `results`, and the confusion matrix
 * (actual, predicted, n) in `results` and INTO the first INTO table, if
 * one is given, as the caller, in the transaction that records the
 * segment's end (exactly once).
 *
 * An evaluation needs all the rows: segment 0 reads the whole staged input,
 * the other segments do nothing. The INTO table must have the columns
 * actual, predicted, n: the engine creates a missing INTO table before the
 * run from RETURNS TABLE (or the input's columns), so declare the
 * procedure with RETURNS TABLE (actual text, predicted text, n bigint) or
 * create the table first.
 */
export const classifierTest: ProcedureType = {
  name: 'classifier.test',
  summary: 'evaluates a classifier of procgate.models on a table: accuracy, per-class precision/recall/F1, confusion matrix',
  parameters: [
    existingModelParameter('the model (procgate.models) to evaluate', ['classifier']),
    TEST_DATA_PARAMETER,
    {
      name: 'label',
      kind: 'text',
      required: false,
      description: "the label column (default: the model's label column)",
      checks: { columnOf: 'test_data', modelDefault: 'model_name' },
    },
  ],
  async run(context) {
    if (context.segment !== 0) return { results: { evaluated_by_segment: 0 }, idle: true };
    const model = await loadClassifier(context.pool, context.params['model_name'], context.role);
    const label = (context.params['label'] as string | undefined) ?? model.labelColumn;
    const input = context.inputs.find((staged) => staged.name === 'test_data') ?? context.inputs[0];
    if (input === undefined) throw new TypeParameterError('classifier.test needs a TABLE argument "test_data"');
    const output = context.outputs[0];
    if (output !== undefined) {
      const missing = MATRIX_COLUMNS.filter((name) => !output.columns.some((column) => column.name === name));
      if (missing.length > 0) {
        throw new TypeParameterError(
          `INTO table "${output.name}" has no column ${missing.map((name) => `"${name}"`).join(', ')}: the confusion matrix needs (actual text, predicted text, n bigint); declare the procedure with that RETURNS TABLE or create the table first`,
        );
      }
    }
    const names = input.columns.map((column) => column.name).join(', ');
    if (!input.columns.some((column) => column.name === label)) {
      throw new TypeParameterError(`the test data has no label column "${label}" (its columns: ${names})`);
    }
    const features = model.featureNames.map((feature) => {
      const column = input.columns.find((candidate) => candidate.name === feature);
      if (column === undefined) {
        throw new TypeParameterError(`the test data has no column "${feature}", a feature of model "${model.name}" (its columns: ${names})`);
      }
      return column;
    });
    const bad = nonNumericColumns(features);
    if (bad !== '') throw new TypeParameterError(`feature columns must be numeric: ${bad}`);

    const cells = [`${sqlIdentifier(label)}::text`, ...model.featureNames.map((f) => `${sqlIdentifier(f)}::float8::text`)];
    const { rows } = await context.pool.query<{ row: (string | null)[] }>(
      `SELECT ARRAY[${cells.join(', ')}] AS row FROM procgate_staging.${sqlIdentifier(input.table)}`,
    );
    context.report({ kind: 'rows', read: rows.length });
    context.report({ kind: 'progress', fraction: 0.3 });
    const actual: string[] = [];
    const x: number[][] = [];
    let skipped = 0;
    for (const { row } of rows) {
      const [value, ...features] = row;
      if (value === null || value === undefined || features.some((item) => item === null)) {
        skipped += 1;
        continue;
      }
      actual.push(value);
      x.push(features.map(Number));
    }
    const predicted = model.predict(x);
    context.report({ kind: 'progress', fraction: 0.9 });

    const classes = [...new Set([...model.labelValues, ...actual])].sort();
    const matrix = new Map<string, number>();
    let right = 0;
    actual.forEach((value, i) => {
      const guess = predicted[i] as string;
      if (guess === value) right += 1;
      const key = JSON.stringify([value, guess]);
      matrix.set(key, (matrix.get(key) ?? 0) + 1);
    });
    const confusion = [...matrix.entries()]
      .map(([key, n]) => {
        const [a, p] = JSON.parse(key) as [string, string];
        return { actual: a, predicted: p, n };
      })
      .sort((a, b) => compare(a.actual, b.actual) || compare(a.predicted, b.predicted));
    const perClass: ClassMetrics[] = [];
    for (const name of classes) {
      const tp = matrix.get(JSON.stringify([name, name])) ?? 0;
      const support = actual.filter((value) => value === name).length;
      const guessed = predicted.filter((value) => value === name).length;
      const precision = guessed === 0 ? null : tp / guessed;
      const recall = support === 0 ? null : tp / support;
      let f1: number | null = null;
      if (precision !== null && recall !== null) {
        f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
      }
      perClass.push({ class: name, precision, recall, f1, support });
    }
    const f1s = perClass.flatMap((metrics) => (metrics.f1 === null ? [] : [metrics.f1]));
    context.report({ kind: 'progress', fraction: 1 });
    return {
      rowsIn: rows.length,
      results: {
        model: model.name,
        label,
        rows: actual.length,
        skipped_rows: skipped,
        accuracy: actual.length === 0 ? null : right / actual.length,
        macro_f1: f1s.length === 0 ? null : f1s.reduce((sum, value) => sum + value, 0) / f1s.length,
        per_class: perClass,
        confusion_matrix: confusion,
      },
      ...(output === undefined
        ? {}
        : {
            load: (client) =>
              executeAsRole(
                client,
                context.role,
                `INSERT INTO ${output.table} (actual, predicted, n)
                 SELECT * FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3))`,
                [
                  { type: 'text[]', value: confusion.map((cell) => cell.actual) },
                  { type: 'text[]', value: confusion.map((cell) => cell.predicted) },
                  { type: 'bigint[]', value: confusion.map((cell) => cell.n) },
                ],
              ),
          }),
    };
  },
};

/** Byte order (PostgreSQL's "C" collation for ASCII), as label_values is sorted. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
