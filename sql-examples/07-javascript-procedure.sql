-- A javascript procedure over table data: the same word count as an ES module
-- run in the engine's worker threads. It reads its segment's rows from
-- ctx.inputs, writes rows with ctx.outputs, and reports progress and results
-- through ctx. The context is described in docs/procedures.md.
CREATE TABLE docs (id int PRIMARY KEY, lang text, body text);
INSERT INTO docs VALUES
  (1, 'en', 'the quick brown fox'),
  (2, 'en', 'jumps over the lazy dog'),
  (3, 'de', 'der schnelle braune fuchs'),
  (4, 'de', 'der faule hund'),
  (5, 'fr', 'le renard brun');

CREATE PROCEDURE word_count(docs TABLE, min_len int DEFAULT 1)
  LANGUAGE javascript
  RETURNS TABLE (lang text, word text, n int)
  FILES ('main.js' = $js$
export default async (ctx) => {
  const { min_len } = ctx.params;
  if (min_len < 1) throw new Error('min_len must be at least 1');
  const counts = new Map();
  let seen = 0;
  // Rows are objects by column name, read from the segment's file as you iterate.
  for await (const row of ctx.inputs.docs) {
    for (const word of row.body.split(/\s+/)) {
      if (word.length < min_len) continue;
      const key = JSON.stringify([row.lang, word]);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    seen += 1;
  }
  ctx.progress(0.5);
  // Outputs by the name written in INTO, or by position: ctx.outputs[0].
  const out = ctx.outputs.word_counts;
  for (const key of [...counts.keys()].sort()) {
    const [lang, word] = JSON.parse(key);
    await out.write({ lang, word, n: counts.get(key) }); // await: waits when the file buffer is full
  }
  ctx.result('docs', seen);
  ctx.log.info('segment %d of %d: %d docs', ctx.segment, ctx.segmentCount, seen);
  return { words: out.rowCount }; // merged into the segment's results
};
$js$);

-- CALL's progress NOTICEs vary from run to run: hidden here.
SET client_min_messages = warning;
CALL word_count(docs => TABLE (SELECT id, lang, body FROM docs) PARTITION BY lang, min_len => 4)
  INTO word_counts WITH (run_tag = 'example');

SELECT * FROM word_counts ORDER BY lang, word;
SELECT state, segments_total, rows_in, rows_out, results FROM procgate.runs WHERE run_tag = 'example';
SELECT segment, state, rows_in, rows_out, progress FROM procgate.run_segments ORDER BY segment;
SELECT segment, stream, line_no, line FROM procgate.run_output ORDER BY segment, stream, line_no;

-- A second run appends to the existing table; an INTO table is never emptied.
CALL word_count(docs => TABLE (SELECT id, lang, body FROM docs WHERE lang = 'fr') PARTITION BY lang, min_len => 4)
  INTO word_counts WITH (run_tag = 'again');
SELECT lang, word, n, count(*) AS copies FROM word_counts WHERE lang = 'fr' GROUP BY lang, word, n ORDER BY word;

-- A module that throws fails its segment with the error's message (the stack
-- goes to the segment's stderr lines); CALL raises it as SQLSTATE 38000.
CALL word_count(docs => TABLE (docs) PARTITION BY lang, min_len => 0)
  INTO word_counts WITH (run_tag = 'bad');
