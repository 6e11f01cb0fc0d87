import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CatalogDatabase,
  createCatalogDatabase,
  createLoginRole,
  dropRoles,
  expectSqlError,
  type LoginRole,
  one,
} from './catalog-fixture.js';

// What the built-in types' parameters declare beyond their kind (allowed
// values, model names, models, columns of TABLE inputs) fails the EXECUTE,
// with its SQLSTATE and the parameter named, instead of a queued run that fails.

let catalog: CatalogDatabase;
let sql: pg.Client;
let analyst: LoginRole;
let asAnalyst: pg.Client;

beforeAll(async () => {
  catalog = await createCatalogDatabase('catalog_type_checks');
  sql = catalog.admin;
  analyst = await createLoginRole(sql, 'checks_analyst');
  await sql.query(`
    CREATE TABLE public.customers (id int, plan text, region text, calls int, minutes numeric, churned boolean);
    GRANT SELECT ON public.customers TO ${analyst.name};
    CREATE TABLE public.secret (id int, x float8, label text);
    INSERT INTO procgate_internal.models (name, type, algorithm, feature_names, feature_types, label_column,
        label_values, model, sql_function, owner)
      VALUES ('churn', 'classifier', 'decision_tree', '{calls,minutes}', '{integer,numeric}', 'churned',
              '{false,true}', '{}', 'procgate_models.churn', '${analyst.name}'),
             ('segments', 'kmeans', 'kmeans', '{calls}', '{integer}', NULL, '{0,1}', '{}', NULL, '${analyst.name}'),
             ('minutes_fit', 'regression', 'linear', '{calls}', '{integer}', 'minutes', '{}', '{}',
              'procgate_models.minutes_fit', 'procgate'),
             ('admins_only', 'classifier', 'naive_bayes', '{calls}', '{integer}', 'churned', '{}', '{}', NULL, 'procgate');
  `);
  for (const [name, type] of [
    ['train', 'classifier.train'],
    ['test', 'classifier.test'],
    ['apply', 'model.apply'],
    ['rtrain', 'regression.train'],
    ['rtest', 'regression.test'],
    ['cluster', 'kmeans.train'],
  ] as const) {
    await sql.query(`SELECT FROM procgate.create_procedure(name => '${name}', language => 'type', type_name => '${type}')`);
    await sql.query(`SELECT FROM procgate.grant_execute('${name}', '${analyst.name}')`);
  }
  asAnalyst = await catalog.connect(analyst);
});

afterAll(async () => {
  await catalog.close();
  await dropRoles([analyst]);
});

/** procgate.execute of `name` with scalar `args` (SQL of procgate.arg values) and TABLE `tables` (name => query). */
function execute(name: string, args: Record<string, string>, tables: Record<string, string>): string {
  const scalars = Object.entries(args).map(([key, value]) => `procgate.arg('${key}', NULL, ${value})`);
  const inputs = Object.entries(tables).map(
    ([key, query]) => `procgate.table_arg('${key}', NULL, $q$${query}$q$, '{}', '{}')`,
  );
  return `SELECT * FROM procgate.execute('${name}', ARRAY[${scalars.join(', ')}]::procgate.arg_value[],
            ARRAY[${inputs.join(', ')}]::procgate.table_value[])`;
}

const TRAINING = 'SELECT calls, minutes, churned AS label FROM customers';

describe('values the parameters allow', () => {
  it('refuses an unknown algorithm (22023), naming the parameter and the choices', async () => {
    const error = await expectSqlError(
      asAnalyst,
      execute('train', { algorithm: "'random_forrest'", model_name: "'m'" }, { training_data: TRAINING }),
      '22023',
      'invalid value "random_forrest" for parameter "algorithm" of type "classifier.train"',
    );
    expect(error.hint).toBe('Its values: random_forest, decision_tree, logistic_regression, naive_bayes.');
    await expectSqlError(
      asAnalyst,
      execute('rtrain', { algorithm: "'random_forrest'", model_name: "'m'" }, { training_data: TRAINING }),
      '22023',
      'invalid value "random_forrest" for parameter "algorithm" of type "regression.train"',
    );
  });

  it('refuses a model_name that is no lower-case identifier (22023)', async () => {
    const error = await expectSqlError(
      asAnalyst,
      execute('train', { model_name: "'Churn-Model'" }, { training_data: TRAINING }),
      '22023',
      'invalid value "Churn-Model" for parameter "model_name" of type "classifier.train"',
    );
    expect(error.detail).toBe('It must be a lower-case identifier (letters, digits, _; at most 63 characters).');
    await expectSqlError(
      asAnalyst,
      execute('cluster', { model_name: "'x y'", k: '2' }, { training_data: 'SELECT calls FROM customers' }),
      '22023',
      'invalid value "x y" for parameter "model_name" of type "kmeans.train"',
    );
  });

  it("refuses a number outside a parameter's range (22023)", async () => {
    const error = await expectSqlError(
      asAnalyst,
      execute('train', { model_name: "'m'", test_split: '1' }, { training_data: TRAINING }),
      '22023',
      'invalid value 1 for parameter "test_split" of type "classifier.train"',
    );
    expect(error.detail).toBe('It must be at least 0 and less than 1.');
    await expectSqlError(
      asAnalyst,
      execute('train', { model_name: "'m'", learning_rate: '0' }, { training_data: TRAINING }),
      '22023',
      'invalid value 0 for parameter "learning_rate" of type "classifier.train"',
    );
    await expectSqlError(
      asAnalyst,
      execute('rtrain', { model_name: "'m'", n_estimators: '0' }, { training_data: TRAINING }),
      '22023',
      'invalid value 0 for parameter "n_estimators" of type "regression.train"',
    );
  });
});

describe('models a parameter names', () => {
  it('refuses an unknown model, and one the caller may not see, alike (42704)', async () => {
    const error = await expectSqlError(
      asAnalyst,
      execute('test', { model_name: "'nosuch'" }, { test_data: 'SELECT * FROM customers' }),
      '42704',
      'model "nosuch" does not exist',
    );
    expect(error.detail).toBe(
      'Parameter "model_name" of type "classifier.test" names no model of procgate.models that you can see.',
    );
    await expectSqlError(
      asAnalyst,
      execute('rtest', { model_name: "'minutes_fit'" }, { test_data: 'SELECT * FROM customers' }),
      '42704',
      'model "minutes_fit" does not exist',
    );
    await expectSqlError(
      asAnalyst,
      execute('apply', { model_name: "'nosuch'" }, { input: 'SELECT * FROM customers' }),
      '42704',
      'model "nosuch" does not exist',
    );
  });

  it('refuses a model of another type (42809) and one without a SQL function for model.apply (22023)', async () => {
    await expectSqlError(
      asAnalyst,
      execute('test', { model_name: "'segments'" }, { test_data: 'SELECT * FROM customers' }),
      '42809',
      'model "segments" is a kmeans model, not a classifier',
    );
    await expectSqlError(
      sql,
      execute('apply', { model_name: "'admins_only'" }, { input: 'SELECT * FROM customers' }),
      '22023',
      'model "admins_only" has no SQL function to score with',
    );
  });
});

describe('columns of TABLE inputs, described as the caller', () => {
  it('refuses a label that is no column of the training data (42703), naming its columns', async () => {
    const error = await expectSqlError(
      asAnalyst,
      execute('train', { label: "'churnd'", model_name: "'m'" }, { training_data: 'SELECT calls, churned FROM customers' }),
      '42703',
      'TABLE argument "training_data" of type "classifier.train" has no column "churnd"',
    );
    expect(error.detail).toBe('Parameter "label" names it. Its columns: calls, churned.');
    // Without label => ..., the type's default, label.
    await expectSqlError(
      asAnalyst,
      execute('train', { model_name: "'m'" }, { training_data: 'SELECT calls, churned FROM customers' }),
      '42703',
      'TABLE argument "training_data" of type "classifier.train" has no column "label"',
    );
  });

  it('names every non-numeric feature column (42804)', async () => {
    const error = await expectSqlError(
      asAnalyst,
      execute('train', { label: "'churned'", model_name: "'m'" }, { training_data: 'SELECT * FROM customers' }),
      '42804',
      'feature columns of TABLE argument "training_data" of type "classifier.train" must be numeric: "plan" (text), "region" (text)',
    );
    expect(error.hint).toBe('Cast or encode them in the TABLE query, or leave them out of it.');
    await expectSqlError(
      asAnalyst,
      execute('rtrain', { label: "'plan'", model_name: "'m'" }, { training_data: 'SELECT calls, plan FROM customers' }),
      '42804',
      'column named by "label" of TABLE argument "training_data" of type "regression.train" must be numeric: "plan" (text)',
    );
    await expectSqlError(
      asAnalyst,
      execute('cluster', { model_name: "'k'", k: '2', features: "ARRAY['calls', 'region']" }, { training_data: 'SELECT * FROM customers' }),
      '42804',
      'feature columns of TABLE argument "training_data" of type "kmeans.train" must be numeric: "region" (text)',
    );
  });

  it("checks a model's features and label column against the test data (42703, 42804)", async () => {
    const missing = await expectSqlError(
      asAnalyst,
      execute('test', { model_name: "'churn'" }, { test_data: 'SELECT churned, plan FROM customers' }),
      '42703',
      'TABLE argument "test_data" of type "classifier.test" has no column "calls", "minutes"',
    );
    expect(missing.detail).toBe('Model "churn" takes the features calls, minutes. Its columns: churned, plan.');
    // The model's label column when label is not given.
    await expectSqlError(
      asAnalyst,
      execute('test', { model_name: "'churn'" }, { test_data: 'SELECT calls, minutes FROM customers' }),
      '42703',
      'TABLE argument "test_data" of type "classifier.test" has no column "churned"',
    );
    await expectSqlError(
      asAnalyst,
      execute('test', { model_name: "'churn'" }, { test_data: 'SELECT calls, minutes::text, churned FROM customers' }),
      '42804',
      'feature columns of TABLE argument "test_data" of type "classifier.test" must be numeric: "minutes" (text)',
    );
    await expectSqlError(
      asAnalyst,
      execute('apply', { model_name: "'churn'" }, { input: 'SELECT id, calls FROM customers' }),
      '42703',
      'TABLE argument "input" of type "model.apply" has no column "minutes"',
    );
  });

  it("reads the query as the caller: the caller's temporary table, not what the caller may not read", async () => {
    await asAnalyst.query('CREATE TEMP TABLE mine (calls int, minutes numeric, churned boolean)');
    const queued = await one(
      asAnalyst,
      execute('test', { model_name: "'churn'" }, { test_data: 'SELECT * FROM mine' }),
    );
    expect(queued).toMatchObject({ state: 'queued' });
    await expectSqlError(
      asAnalyst,
      execute('train', { model_name: "'m'" }, { training_data: 'SELECT * FROM secret' }),
      '42501',
      'permission denied for table secret',
    );
  });

  it('types $n placeholders of a query as their values were typed', async () => {
    const queued = await one(
      asAnalyst,
      `SELECT * FROM procgate.execute('train', ARRAY[procgate.arg('model_name', NULL, 'm')],
         ARRAY[procgate.table_arg('training_data', NULL,
           'SELECT calls + $2 AS calls, churned AS label FROM customers WHERE region = $1',
           '{"1": {"value": "eu", "type": "text"}, "2": {"value": 1, "type": "integer"}}', '{}')])`,
    );
    expect(queued).toMatchObject({ state: 'queued' });
    // CALL's untyped $n (written into the query as a literal when the run starts): not described now.
    const untyped = await one(
      asAnalyst,
      `SELECT * FROM procgate.execute('train', ARRAY[procgate.arg('model_name', NULL, 'm')],
         ARRAY[procgate.table_arg('training_data', NULL, 'SELECT calls FROM customers WHERE id = $1',
           '{"1": {"value": "7", "type": "unknown"}}', '{}')])`,
    );
    expect(untyped).toMatchObject({ state: 'queued' });
    // The statement the check prepares is gone, whatever happened.
    const left = await one(asAnalyst, 'SELECT count(*)::int AS n FROM pg_prepared_statements');
    expect(left).toEqual({ n: 0 });
  });
});
