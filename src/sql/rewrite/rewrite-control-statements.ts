import { SqlState } from '../../errors/sqlstate.js';
import { StatementError } from '../parse-statement.js';
import type {
  DropProcedure,
  GrantExecute,
  KillRun,
  KillRuns,
  Option,
  ShowProcedure,
  ShowProcedureStatus,
  ShowProcedures,
} from '../statement-ast.js';
import type { SqlBuilder } from './sql-builder.js';
import { writeValue } from './value-expressions.js';

/** KILL RUN 'id' → procgate.kill_run(id). */
export function rewriteKillRun(b: SqlBuilder, statement: KillRun): void {
  b.sql('SELECT * FROM procgate.kill_run(').copy(statement.runId).sql(')');
}

/** KILL RUNS [OF PROCEDURE p] [WITH (run_tag = t)] → procgate.kill_runs(p, t). */
export function rewriteKillRuns(b: SqlBuilder, source: string, statement: KillRuns): void {
  const runTag = runTagOption(statement.options);
  b.sql('SELECT * FROM procgate.kill_runs(');
  if (statement.procedure === null) b.sql('NULL');
  else b.literal(statement.procedure.value);
  b.sql(', ');
  writeRunTag(b, source, runTag);
  b.sql(')');
}

/** SHOW PROCEDURE STATUS ['id'] [WITH (run_tag = t)] → procgate.show_procedure_status(id, t). */
export function rewriteShowProcedureStatus(
  b: SqlBuilder,
  source: string,
  statement: ShowProcedureStatus,
): void {
  const runTag = runTagOption(statement.options);
  b.sql('SELECT * FROM procgate.show_procedure_status(');
  if (statement.runId === null) b.sql('NULL');
  else b.copy(statement.runId);
  b.sql(', ');
  writeRunTag(b, source, runTag);
  b.sql(')');
}

export function rewriteDropProcedure(b: SqlBuilder, statement: DropProcedure): void {
  b.sql('SELECT * FROM procgate.drop_procedure(')
    .literal(statement.name.value)
    .sql(`, ${statement.ifExists})`);
}

export function rewriteShowProcedures(b: SqlBuilder, _statement: ShowProcedures): void {
  b.sql('SELECT * FROM procgate.show_procedures()');
}

export function rewriteShowProcedure(b: SqlBuilder, statement: ShowProcedure): void {
  b.sql('SELECT * FROM procgate.show_procedure(').literal(statement.name.value).sql(')');
}

/** GRANT/REVOKE EXECUTE ON PROCEDURE p TO/FROM role → procgate.grant_execute|revoke_execute(p, role). */
export function rewriteGrantExecute(b: SqlBuilder, statement: GrantExecute): void {
  const verb = statement.kind === 'grant-execute' ? 'grant_execute' : 'revoke_execute';
  b.sql(`SELECT * FROM procgate.${verb}(`)
    .literal(statement.name.value)
    .sql(', ')
    .literal(statement.role.value);
  b.sql(')');
}

/** These statements take one option, run_tag; anything else is 22023 at its name. */
function runTagOption(options: readonly Option[]): Option | undefined {
  for (const option of options) {
    if (option.name.value !== 'run_tag') {
      throw new StatementError(
        SqlState.invalidParameterValue,
        `unrecognized option "${option.name.value}": only run_tag is accepted here`,
        option.name.span.start,
      );
    }
  }
  return options[0];
}

function writeRunTag(b: SqlBuilder, source: string, runTag: Option | undefined): void {
  if (runTag === undefined) b.sql('NULL');
  else writeValue(b, source, runTag.value, { kind: 'name', name: 'text' });
}
