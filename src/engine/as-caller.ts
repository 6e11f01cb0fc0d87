import type pg from 'pg';

/** A value handed to a statement run as the caller, with its type as PostgreSQL names it. */
export interface TypedArgument {
  readonly type: string;
  readonly value: unknown;
}

/**
 * Runs one SQL statement as `role` and returns the rows it touched.
 *
 * The engine's own connection is a superuser's, and a plain `SET ROLE`
 * would not hold: the caller's SQL (a function in a TABLE query, a trigger
 * on an INTO table) could `set_config('role', ...)` straight back. So the
 * statement runs inside a SECURITY DEFINER function that `role` owns,
 * where PostgreSQL refuses any change of role or session authorization.
 * The function lives in this session's pg_temp and is dropped again, all
 * inside the caller's transaction.
 *
 * `args` are bound to `$1..$n` of `statement`; their types must be
 * canonical type names (see canonicalTypes), since they become part of the
 * function's body. They reach the function as one jsonb value and take
 * their types inside it: a type's conversion may run the caller's code (a
 * domain's CHECK, a cast of the caller's type), which must run as `role`
 * too, never in the engine's own context.
 */
export async function executeAsRole(
  client: pg.ClientBase,
  role: string,
  statement: string,
  args: readonly TypedArgument[] = [],
): Promise<number> {
  const names = args.map((_, index) => `p${String(index + 1)}`);
  const variables = args.map((arg, index) => `v${String(index + 1)} ${arg.type};`).join(' ');
  const record = names.map((name, index) => `${name} ${args[index]!.type}`).join(', ');
  const bind =
    names.length === 0
      ? ''
      : `SELECT ${names.map((name) => `x.${name}`).join(', ')} INTO ${names.map((_, index) => `v${String(index + 1)}`).join(', ')}
           FROM pg_catalog.jsonb_to_record(args) AS x (${record});`;
  const using = names.length === 0 ? '' : ` USING ${names.map((_, index) => `v${String(index + 1)}`).join(', ')}`;
  await client.query(
    `CREATE FUNCTION pg_temp.procgate_as_caller(statement text, args jsonb) RETURNS bigint
     LANGUAGE plpgsql SECURITY DEFINER AS $fn$
     DECLARE n bigint; ${variables}
     BEGIN ${bind} EXECUTE statement${using}; GET DIAGNOSTICS n = ROW_COUNT; RETURN n; END
     $fn$`,
  );
  const signature = 'pg_temp.procgate_as_caller(text, jsonb)';
  await client.query(`ALTER FUNCTION ${signature} OWNER TO ${client.escapeIdentifier(role)}`);
  const values: Record<string, unknown> = {};
  args.forEach((arg, index) => {
    values[names[index]!] = arg.value;
  });
  const { rows } = await client.query<{ n: string }>('SELECT pg_temp.procgate_as_caller($1, $2::jsonb) AS n', [
    statement,
    JSON.stringify(values),
  ]);
  // After an error the caller's transaction rolls the function back with everything else.
  await client.query(`DROP FUNCTION ${signature}`);
  return Number(rows[0]?.n ?? 0);
}

/**
 * Type names as PostgreSQL spells them (`format_type`), checked to exist:
 * a name that is not a type fails here instead of reaching a declaration.
 */
export async function canonicalTypes(client: pg.ClientBase, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const { rows } = await client.query<{ type: string | null; given: string }>(
    `SELECT g.given, pg_catalog.format_type(pg_catalog.to_regtype(g.given), NULL) AS type
       FROM pg_catalog.unnest($1::text[]) WITH ORDINALITY AS g (given, n) ORDER BY g.n`,
    [names],
  );
  return rows.map((row) => {
    if (row.type === null) throw new Error(`"${row.given}" is not a type`);
    return row.type;
  });
}
