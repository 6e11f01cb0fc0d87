import type { ProcedureType } from '../engine/procedure-type.js';
import { exportCsv } from './csv/export-csv.js';
import { importCsv } from './csv/import-csv.js';
import { classifierTest } from './learners/classifier-test.js';
import { classifierTrain } from './learners/classifier-train.js';
import { kmeansTrain } from './learners/kmeans-train.js';
import { modelApply } from './learners/model-apply.js';
import { regressionTest } from './learners/regression-test.js';
import { regressionTrain } from './learners/regression-train.js';
import { sqlStatements } from './sql-statements.js';
import { transform } from './transform.js';

/**
 * The built-in procedure types (`CREATE PROCEDURE p TYPE 'name'`), by name:
 * plugins to the engine's contract (src/engine/procedure-type.ts), which
 * `serve` and `worker` hand to the engine (EngineOptions.procedureTypes).
 * Adding a type is adding its module here.
 *
 * @example
 * const engine = new Engine({ slots: 4, logger, procedureTypes: TYPES });
 */
export const TYPES: ReadonlyMap<string, ProcedureType> = new Map(
  [
    transform,
    sqlStatements,
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
