// @ts-check
/**
 * `ctx.db` in a javascript segment's process: a pg connection made at the
 * first query with the segment's own login (see SegmentDatabase in
 * src/engine), which the process asks the executor for over its
 * channel. The login has exactly the rights of the role that executed the
 * run, and dies with the segment; the connection is closed when the
 * segment's default export settles, as the process goes on to run other
 * segments.
 */
import pg from 'pg';

/** @typedef {import('./javascript-messages.js').JavascriptLogin} JavascriptLogin */
/** @typedef {import('./javascript-messages.js').JavascriptDatabase} JavascriptDatabase */
/** @typedef {import('./javascript-messages.js').JavascriptQueryResult} JavascriptQueryResult */
/** @typedef {import('./javascript-messages.js').FromJavascriptChild} FromJavascriptChild */

/** One segment's way into the database. */
export class SegmentDatabase {
  #job;
  #post;
  /** @type {Promise<JavascriptLogin> | undefined} */
  #login;
  /** @type {((answer: { login?: JavascriptLogin, error?: string }) => void) | undefined} */
  #answered;
  /** @type {Promise<pg.Client> | undefined} */
  #client;
  #closed = false;
  /** What the module sees as `ctx.db`. @type {JavascriptDatabase} */
  api;

  /**
   * @param {number} job
   * @param {(message: FromJavascriptChild) => void} post
   */
  constructor(job, post) {
    this.#job = job;
    this.#post = post;
    this.api = Object.freeze({
      query: (/** @type {string} */ text, /** @type {readonly unknown[] | undefined} */ values) =>
        this.#query(text, values),
      environment: async () => ({ ...(await this.#loginOnce()).environment }),
    });
  }

  /** The executor's answer to this segment's login request. @param {{ login?: JavascriptLogin, error?: string }} answer */
  answer(answer) {
    this.#answered?.(answer);
    this.#answered = undefined;
  }

  /** Ends the connection, if one was made; later queries fail. */
  async close() {
    this.#closed = true;
    this.answer({ error: 'the segment has ended' });
    const client = await this.#client?.catch(() => undefined);
    await client?.end().catch(() => undefined);
  }

  /**
   * @param {string} text
   * @param {readonly unknown[] | undefined} values
   * @returns {Promise<JavascriptQueryResult>}
   */
  async #query(text, values) {
    if (typeof text !== 'string') throw new TypeError('ctx.db.query() takes the statement\'s text');
    const client = await this.#connect();
    const result = await client.query(text, values === undefined ? undefined : [...values]);
    return { command: result.command, rows: result.rows, rowCount: result.rowCount, fields: result.fields };
  }

  /** @returns {Promise<pg.Client>} */
  #connect() {
    this.#checkOpen();
    this.#client ??= this.#loginOnce().then(async (login) => {
      const client = new pg.Client({
        host: login.host,
        port: login.port,
        database: login.database,
        user: login.user,
        password: login.password,
        application_name: login.environment['PGAPPNAME'] ?? 'procgate javascript segment',
      });
      // A connection lost meanwhile fails the query using it, not the process.
      client.on('error', () => undefined);
      await client.connect();
      return client;
    });
    return this.#client;
  }

  /** @returns {Promise<JavascriptLogin>} */
  #loginOnce() {
    this.#checkOpen();
    this.#login ??= new Promise((resolve, reject) => {
      this.#answered = ({ login, error }) => {
        if (login !== undefined) resolve(login);
        else reject(new Error(`ctx.db: ${error ?? 'no login'}`));
      };
      this.#post({ kind: 'login', job: this.#job });
    });
    return this.#login;
  }

  #checkOpen() {
    if (this.#closed) throw new Error('ctx.db is closed: its segment has ended');
  }
}
