import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { useProxiedDatabase } from '../support/test-database.js';

const t = useProxiedDatabase('postgres_js');

describe('postgres.js through procgate', () => {
  it('runs queries in its default extended mode, with types and transactions', async () => {
    const sql = postgres(t.proxy.url(t.db.name), { max: 2, onnotice: () => undefined });
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
