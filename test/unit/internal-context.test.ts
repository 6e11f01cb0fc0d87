import { describe, expect, it } from 'vitest';
import { withoutInternalContext } from '../../src/proxy/internal-context.js';

const EXECUTE = "SELECT * FROM procgate.execute(name => 'p', args => ARRAY[procgate.arg(NULL, 1, (1))]::procgate.arg_value[])";
const CALL = "CALL procgate.call_and_wait(name => 'p', args => ARRAY[]::procgate.arg_value[])";

describe('withoutInternalContext', () => {
  it('hides the whole stack of our API functions, qualified PL/pgSQL and the SQL function the statement calls', () => {
    const context = [
      'PL/pgSQL function procgate_internal.argument_name(procgate_internal.procedures,text,integer) line 11 at RAISE',
      'PL/pgSQL function procgate_internal.api_plan_args(name,text,procgate.arg_value[],procgate.table_value[]) line 16 at assignment',
      'SQL function "execute" statement 1',
    ].join('\n');
    expect(withoutInternalContext(context, EXECUTE)).toBeUndefined();
    expect(withoutInternalContext('PL/pgSQL function procgate.show_procedure(text) line 5 at RAISE', "SELECT * FROM procgate.show_procedure('x')")).toBeUndefined();
  });

  it("hides call_and_wait's frames, with the SQL text it runs over several lines", () => {
    const context = [
      'SQL function "execute" statement 1',
      'SQL statement "SELECT e.run_id, e.state',
      '                          FROM procgate.execute(call_and_wait.name, call_and_wait."into",',
      '                          call_and_wait.options) e"',
      'PL/pgSQL function procgate.call_and_wait(text,procgate.arg_value[]) line 9 at SQL statement',
    ].join('\n');
    expect(withoutInternalContext(context, CALL)).toBeUndefined();
  });

  it("keeps the user's frames and everything inside them", () => {
    expect(withoutInternalContext('SQL function "ctx_f" during inlining', EXECUTE)).toBe(
      'SQL function "ctx_f" during inlining',
    );
    // The user's function called by a TABLE query that one of our functions runs.
    const context = [
      'PL/pgSQL function procgate_internal.helper() line 2 at RAISE',
      'SQL function "ctx_f" statement 1',
      'SQL statement "SELECT * FROM (SELECT ctx_f()) q LIMIT 0"',
      'PL/pgSQL function procgate_internal.check_input(text) line 4 at EXECUTE',
      'SQL function "execute" statement 1',
    ].join('\n');
    expect(withoutInternalContext(context, EXECUTE)).toBe(
      'PL/pgSQL function procgate_internal.helper() line 2 at RAISE\nSQL function "ctx_f" statement 1',
    );
  });

  it('takes a SQL function of the same name as ours for the user\'s when the text does not call ours', () => {
    expect(withoutInternalContext('SQL function "execute" statement 1', 'SELECT execute()')).toBe(
      'SQL function "execute" statement 1',
    );
    expect(withoutInternalContext('PL/pgSQL function user_f() line 3 at RAISE', EXECUTE)).toBe(
      'PL/pgSQL function user_f() line 3 at RAISE',
    );
  });
});
