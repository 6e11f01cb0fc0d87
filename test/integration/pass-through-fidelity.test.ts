import type net from 'node:net';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, useProxiedDatabase } from '../support/test-database.js';

// Each case runs the same statements on a session straight to PostgreSQL and
// on one through procgate (on its own database, where our statements are
// recognised) and compares what the client sees.
const t = useProxiedDatabase('fidelity', { statements: true });

let direct: pg.Client;
let proxied: pg.Client;

beforeAll(async () => {
  direct = new pg.Client(t.db.direct);
  proxied = new pg.Client(t.proxy.config(t.db.name));
  await Promise.all([direct.connect(), proxied.connect()]);
  await direct.query('CREATE FUNCTION ctx_f() RETURNS int LANGUAGE sql AS $$ SELECT 1 / 0 $$');
  await proxied.query("CREATE PROCEDURE no_params LANGUAGE command COMMAND 'true'");
  await proxied.query("CREATE PROCEDURE with_table(t TABLE, n int DEFAULT 1) LANGUAGE command COMMAND 'true'");
});

afterAll(async () => {
  await Promise.all([direct.end(), proxied.end()]);
});

/** What a client sees of one query: its results or its error, every field of it. */
async function outcome(client: pg.Client, text: string): Promise<unknown> {
  try {
    const result = (await client.query(text)) as pg.QueryResult | pg.QueryResult[];
    return (Array.isArray(result) ? result : [result]).map(({ command, rows, fields }) => ({
      command,
      rows,
      fields: fields.map((field) => field.name),
    }));
  } catch (error) {
    const { name, stack: _stack, ...fields } = error as pg.DatabaseError;
    return { name, ...fields, message: (error as Error).message };
  }
}

/** A backend message as bytes: its type and its body, undecoded. */
interface RawMessage {
  readonly type: string;
  readonly body: Buffer;
}

/**
 * On a fresh authenticated session (pg's, taken over), sends each batch of
 * messages in one write once the replies to the one before have ended, and
 * returns the backend messages answering each batch, as bytes.
 */
async function rawSession(config: pg.ClientConfig, batches: readonly (readonly Buffer[])[]): Promise<RawMessage[][]> {
  const client = new pg.Client(config);
  await client.connect();
  client.on('error', () => undefined);
  const socket = (client as unknown as { connection: { stream: net.Socket } }).connection.stream;
  socket.removeAllListeners('data');
  let received = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
  });
  const replies: RawMessage[][] = [];
  for (const batch of batches) {
    // Each Query and Sync is answered by one ReadyForQuery.
    const syncs = batch.filter((message) => message[0] === 0x51 || message[0] === 0x53).length;
    received = Buffer.alloc(0);
    socket.write(Buffer.concat(batch));
    const messages = await eventually(
      async () => splitMessages(received),
      (split) => split.filter((message) => message.type === 'Z').length === syncs,
    );
    replies.push(messages);
  }
  socket.end(serialize.end());
  return replies;
}

function splitMessages(bytes: Buffer): RawMessage[] {
  const messages: RawMessage[] = [];
  for (let offset = 0; offset + 5 <= bytes.length; ) {
    const end = offset + 1 + bytes.readInt32BE(offset + 1);
    if (end > bytes.length) break;
    messages.push({ type: String.fromCharCode(bytes[offset]!), body: bytes.subarray(offset + 5, end) });
    offset = end;
  }
  return messages;
}

/** A Query message carrying exactly `text` (bytes in whatever encoding). */
function queryBytes(text: Buffer): Buffer {
  const out = Buffer.alloc(6 + text.length);
  out[0] = 0x51;
  out.writeInt32BE(5 + text.length, 1);
  text.copy(out, 5);
  return out;
}

/** An unnamed Parse message carrying exactly `text`, without parameter types. */
function parseBytes(text: Buffer): Buffer {
  const out = Buffer.alloc(9 + text.length);
  out[0] = 0x50;
  out.writeInt32BE(8 + text.length, 1);
  text.copy(out, 6);
  return out;
}

/** The fields of an ErrorResponse body that a client shows, by their codes. */
function errorFieldsOf(body: Buffer): Record<string, Buffer> {
  const fields: Record<string, Buffer> = {};
  for (let offset = 0; body[offset] !== 0; ) {
    const end = body.indexOf(0, offset + 1);
    fields[String.fromCharCode(body[offset]!)] = body.subarray(offset + 1, end);
    offset = end + 1;
  }
  return fields;
}

/** The error of `query`, with every field the client sees. */
async function errorOf(query: Promise<unknown>): Promise<Record<string, unknown>> {
  const error = await query.then(
    () => undefined,
    (caught: unknown) => caught as pg.DatabaseError,
  );
  expect(error).toBeDefined();
  const { stack: _stack, ...fields } = error!;
  return { ...fields, message: error!.message };
}

/** Runs `texts` on each session in turn and expects the same outcome of each. */
async function expectSameOutcomes(texts: readonly string[]): Promise<void> {
  const expected = [];
  for (const text of texts) expected.push(await outcome(direct, text));
  for (const [index, text] of texts.entries()) {
    expect(await outcome(proxied, text), text).toEqual(expected[index]);
  }
}

describe('pass-through fidelity on the procgate database', () => {
  it('leaves custom settings named procedure.* and procedures.* to PostgreSQL', async () => {
    await expectSameOutcomes([
      "SET procedure.retries = '3'",
      'SHOW procedure.retries',
      "SELECT set_config('procedures.mode', 'fast', false)",
      'SHOW procedures.mode',
      'SHOW procedures . mode',
      'RESET procedure.retries',
      'SHOW procedure.retries',
      'SHOW procedure.missing',
    ]);
  });

  it('reads schema-qualified procedure names whole (a procedure named type)', async () => {
    // In a transaction rolled back, so that both sessions start from the same database.
    await expectSameOutcomes([
      'BEGIN',
      'CREATE SCHEMA probe',
      'CREATE PROCEDURE probe.type() LANGUAGE sql AS $$ SELECT 1 $$',
      'CREATE PROCEDURE "probe" . p(n int) LANGUAGE sql AS $$ SELECT n $$',
      'CALL probe.type()',
      'GRANT EXECUTE ON PROCEDURE probe.p TO PUBLIC',
      'ROLLBACK',
    ]);
  });
});

describe('CONTEXT of errors in a text that holds our statements', () => {
  it("keeps the CONTEXT of the user's own function in a Query that also holds one of ours", async () => {
    const expected = await errorOf(direct.query('SELECT ctx_f()'));
    expect(expected.where).toContain('SQL function "ctx_f"');
    expect(await errorOf(proxied.query('SHOW PROCEDURES; SELECT ctx_f()'))).toEqual(expected);
  });

  it('credits an Execute-time error in a pipeline to the statement that raised it, not to our next one', async () => {
    const messages = [
      serialize.parse({ text: 'SELECT ctx_f()' }),
      serialize.bind({}),
      serialize.execute({}),
      serialize.parse({ text: 'SHOW PROCEDURES' }),
      serialize.bind({}),
      serialize.execute({}),
      serialize.sync(),
      // After the Sync, the same text again in the other order, and once more with ours failing at Execute.
      serialize.parse({ text: 'SELECT 1' }),
      serialize.bind({}),
      serialize.execute({}),
      serialize.parse({ text: 'SELECT ctx_f()' }),
      serialize.bind({}),
      serialize.execute({}),
      serialize.sync(),
    ];
    const expected = await rawSession(t.db.direct, [messages]);
    expect(expected[0]!.filter((message) => message.type === 'E')).toHaveLength(2);
    expect(await rawSession(t.proxy.config(t.db.name), [messages])).toEqual(expected);
  });

  it('hides only our internal CONTEXT lines from errors of our statements', async () => {
    // Simple and extended protocol alike: nothing but the error itself.
    for (const query of [
      () => proxied.query('SHOW PROCEDURE nope'),
      () => proxied.query({ text: 'SHOW PROCEDURE nope', values: [] }),
      () => proxied.query('EXECUTE PROCEDURE no_params(1, 2)'),
      () => proxied.query('EXECUTE PROCEDURE no_params($1)', [1]),
      () => proxied.query('CALL no_params(1)'),
      () => proxied.query('CALL no_params($1)', [1]),
      () => proxied.query('SELECT 1; CALL no_params(1)'),
    ]) {
      const error = await errorOf(query());
      expect(error.code).toMatch(/^(42883|22023)$/);
      expect(error.where).toBeUndefined();
    }
    // The user's own function, called by an argument or a TABLE query, keeps its CONTEXT line.
    for (const text of [
      'EXECUTE PROCEDURE with_table(t => TABLE (SELECT 1), n => ctx_f())',
      'EXECUTE PROCEDURE with_table(t => TABLE (SELECT ctx_f()))',
    ]) {
      const error = await errorOf(proxied.query(text));
      expect(error.code, text).toBe('22012');
      expect(error.where, text).toMatch(/^SQL function "ctx_f" (statement 1|during inlining)$/);
    }
  });

  it("leaves the CONTEXT of a direct call of procgate's functions alone, next to our statements", async () => {
    const text = "SELECT * FROM procgate.show_procedure('nope')";
    const expected = await errorOf(direct.query(text));
    expect(expected.where).toContain('procgate.show_procedure');
    expect(await errorOf(proxied.query(`SHOW PROCEDURES; ${text}`))).toEqual(expected);
  });
});

describe('texts in the client encoding', () => {
  const latin1 = (text: string): Buffer => Buffer.from(text, 'latin1');
  const setLatin1 = [queryBytes(latin1("SET client_encoding = 'LATIN1'"))];

  it('rewrites a LATIN1 Query holding one of ours and leaves the bytes of the rest as they were', async () => {
    const select = "SELECT 'caf\xe9' AS s, length('caf\xe9') AS n, 'caf\xe9' = convert_from('\\x636166c3a9', 'UTF8') AS same";
    const [, expected] = await rawSession(t.db.direct, [setLatin1, [queryBytes(latin1(select))]]);
    const [, replies] = await rawSession(t.proxy.config(t.db.name), [
      setLatin1,
      [queryBytes(latin1(`SHOW PROCEDURES; ${select}`))],
    ]);
    // SHOW PROCEDURES's rows, then exactly what PostgreSQL answers to the SELECT alone.
    const afterShow = replies!.findIndex((message) => message.type === 'C') + 1;
    expect(replies!.slice(afterShow)).toEqual(expected);
    const row = expected!.find((message) => message.type === 'D')!;
    expect(row.body.includes(latin1('caf\xe9'))).toBe(true);
  });

  it('reads names in our statements in LATIN1 and tells our errors in LATIN1', async () => {
    const direct = "SELECT * FROM procgate.show_procedure('caf\xe9')";
    const [, expected] = await rawSession(t.db.direct, [setLatin1, [queryBytes(latin1(direct))]]);
    const [, replies] = await rawSession(t.proxy.config(t.db.name), [
      setLatin1,
      [queryBytes(latin1('SHOW PROCEDURE "caf\xe9"'))],
    ]);
    const errorOfReplies = (messages: RawMessage[]): Record<string, Buffer> =>
      errorFieldsOf(messages.find((message) => message.type === 'E')!.body);
    const { W: _where, ...fields } = errorOfReplies(expected!);
    expect(fields.M).toEqual(latin1('procedure "caf\xe9" does not exist'));
    expect(errorOfReplies(replies!)).toEqual(fields);
    // The same through the extended protocol.
    const [, extended] = await rawSession(t.proxy.config(t.db.name), [
      setLatin1,
      [parseBytes(latin1('SHOW PROCEDURE "caf\xe9"')), serialize.bind({}), serialize.execute({}), serialize.sync()],
    ]);
    expect(errorOfReplies(extended!)).toEqual(fields);
  });

  it('leaves a text that is not valid in the client encoding to PostgreSQL, which rejects it', async () => {
    const bytes = Buffer.concat([Buffer.from("SHOW PROCEDURES; SELECT '"), Buffer.from([0xff]), Buffer.from("'")]);
    const [expected] = await rawSession(t.db.direct, [[queryBytes(bytes)]]);
    expect(errorFieldsOf(expected!.find((message) => message.type === 'E')!.body).C).toEqual(Buffer.from('22021'));
    expect(await rawSession(t.proxy.config(t.db.name), [[queryBytes(bytes)]])).toEqual([expected]);
  });

  it('rewrites in the other client encodings PostgreSQL supports', async () => {
    for (const [encoding, text] of [
      ['WIN1251', Buffer.from([0xea, 0xee, 0xf2])], // кот
      ['EUC_JP', Buffer.from([0xc6, 0xfc, 0xcb, 0xdc])], // 日本
      ['SJIS', Buffer.from([0x83, 0x5c])], // ソ, whose second byte is a backslash
      ['GBK', Buffer.from([0xd6, 0xd0, 0xce, 0xc4])], // 中文
      ['SQL_ASCII', Buffer.from([0xc3, 0xa9])],
    ] as const) {
      const set = [queryBytes(Buffer.from(`SET client_encoding = '${encoding}'`))];
      const select = Buffer.concat([Buffer.from("SELECT '"), text, Buffer.from("' AS s, length('"), text, Buffer.from("') AS n")]);
      const [, expected] = await rawSession(t.db.direct, [set, [queryBytes(select)]]);
      const [, replies] = await rawSession(t.proxy.config(t.db.name), [
        set,
        [queryBytes(Buffer.concat([Buffer.from('SHOW PROCEDURES; '), select]))],
      ]);
      const afterShow = replies!.findIndex((message) => message.type === 'C') + 1;
      expect(replies!.slice(afterShow), encoding).toEqual(expected);
    }
  });
});
