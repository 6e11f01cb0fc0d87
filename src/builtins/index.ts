import { exportCsv } from './csv/export-csv.js';
import { importCsv } from './csv/import-csv.js';
import { kmeansTrain } from './learners/kmeans-train.js';
import { classifierTest } from './learners/classifier-test.js';
import { classifierTrain } from './learners/classifier-train.js';
import { modelApply } from './learners/model-apply.js';
import type { ProcedureType } from '../engine/procedure-type.js';
import { regressionTest } from './learners/regression-test.js';
import { regressionTrain } from './learners/regression-train.js';
import { sql } from './sql-statements.js';
import { transform } from './transform.js';

/** The built-in procedure types, by name. */
export const TYPES: ReadonlyMap<string, ProcedureType> = new Map(
  [
    transform,
    sql,
    importCsv,
    exportCsv,
    classifierTrain,
    classifierTest,
    modelApply,
    regressionTrain,
    regressionTest,
    kmeansTrain,
  ].map((type) => [type.name, type]),
);
