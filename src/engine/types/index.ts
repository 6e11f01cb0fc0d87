import { exportCsv } from './export-csv.js';
import { importCsv } from './import-csv.js';
import { kmeansTrain } from './kmeans-train.js';
import { classifierTest } from './classifier-test.js';
import { classifierTrain } from './classifier-train.js';
import { modelApply } from './model-apply.js';
import type { ProcedureType } from './procedure-type.js';
import { regressionTest } from './regression-test.js';
import { regressionTrain } from './regression-train.js';
import { sql } from './sql.js';
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
