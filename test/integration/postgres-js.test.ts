import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestDatabase,
  startTestProxy,
  type TestDatabase,
  type TestProxy,
} from '../support/test-database.js';

let db: TestDatabase;
let proxy: TestProxy;

beforeAll(async () => {
  db = await createTestDatabase('postgres_js');
  proxy = await startTestProxy();
});

afterAll(async () => {
  await proxy.close();
  await db.drop();
});

describe('postgres.js through procgate', () => {
  it('runs queries in its default extended mode, with types and transactions', async () => {
    const sql = postgres(proxy.url(db.name), { max: 2, onnotice: () => undefined });
    try {
      await sql`CREATE TABLE people (id serial PRIMARY KEY, name text, born date, tags text[])`;
      await sql`INSERT INTO people ${sql([
        { name: 'Ada', born: new Date('1815-12-10'), tags: ['math'] },
        { name: 'Grace', born: new Date('1906-12-09'), tags: ['navy', 'cobol'] },
      ])}`;
      const rows = await sql<{ name: string; tags: string[] }[]>`
        SELECT name, tags FROM people WHERE born < ${new Date('1900-01-01')} ORDER BY id`;
      expect(rows.map((r) => ({ ...r }))).toEqual([{ name: 'Ada', tags: ['math'] }]);

      const failed = await sql
        .begin(async (tx) => {
          await tx`INSERT INTO people (name) VALUES ('Temp')`;
          await tx`SELECT 1/0`;
        })
        .catch((error: { code: string }) => error.code);
      expect(failed).toBe('22012');
      const [count] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM people`;
      expect(count?.n).toBe(2);

      const many = await Promise.all(Array.from({ length: 20 }, (_, i) => sql`SELECT ${i}::int AS i`));
      expect(many.map((r) => r[0]?.i)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    } finally {
      await sql.end();
    }
  });
});
