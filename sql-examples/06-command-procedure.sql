-- A command procedure over table data: a python3 word count, one segment per
-- language (PARTITION BY), its rows written INTO a table it creates, progress
-- and results reported on the status channel. The contract the program follows
-- is in docs/procedures.md.
CREATE TABLE docs (id int PRIMARY KEY, lang text, body text);
INSERT INTO docs VALUES
  (1, 'en', 'the quick brown fox'),
  (2, 'en', 'jumps over the lazy dog'),
  (3, 'de', 'der schnelle braune fuchs'),
  (4, 'de', 'der faule hund'),
  (5, 'fr', 'le renard brun');

CREATE PROCEDURE word_count(docs TABLE, min_len int DEFAULT 1)
  LANGUAGE command COMMAND 'python3' ARGS ('wc.py')
  RETURNS TABLE (lang text, word text, n int)
  FILES ('wc.py' = $py$
import csv, json, os, sys
from collections import Counter

# The control file describes the run: parameters, this segment's input file,
# the file to write for each INTO table.
control = json.load(open(os.environ['PROCGATE_CONTROL_FILE']))
min_len = control['params']['min_len']['value']
docs = control['inputs'][0]
out = control['outputs'][0]
# The status channel: one JSON object per line.
status = os.fdopen(int(os.environ['PROCGATE_STATUS_FD']), 'w', buffering=1)

if min_len < 1:
    sys.exit('min_len must be at least 1')  # to stderr, exit code 1: the segment fails

counts, seen = Counter(), 0
with open(docs['path'], newline='') as f:
    for row in csv.DictReader(f):
        for word in row['body'].split():
            if len(word) >= min_len:
                counts[(row['lang'], word)] += 1
        seen += 1
status.write(json.dumps({'progress': 0.5, 'message': 'counted %d docs' % seen}) + '\n')

with open(out['path'], 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow([column['name'] for column in out['columns']])  # the header: lang,word,n
    for (lang, word), n in sorted(counts.items()):
        writer.writerow([lang, word, n])
status.write(json.dumps({'result': {'docs': seen, 'words': len(counts)}}) + '\n')
print('segment %s of %s: %d docs' % (os.environ['PROCGATE_SEGMENT'], os.environ['PROCGATE_SEGMENT_COUNT'], seen))
$py$);

-- CALL waits for the run and returns it. In psql it also reports the run's
-- progress as NOTICEs; they vary from run to run, so they are hidden here.
SET client_min_messages = warning;
CALL word_count(docs => TABLE (SELECT id, lang, body FROM docs) PARTITION BY lang, min_len => 4)
  INTO word_counts WITH (run_tag = 'example');

-- word_counts did not exist: the run created it with the RETURNS TABLE columns.
SELECT * FROM word_counts ORDER BY lang, word;

-- One segment per language (de, en, fr in key order); rows_in counts the
-- documents read, rows_out the rows loaded into word_counts.
SELECT state, segments_total, rows_in, rows_out, results FROM procgate.runs WHERE run_tag = 'example';
SELECT segment, state, exit_code, rows_in, rows_out, progress, message
FROM procgate.run_segments ORDER BY segment;
SELECT segment, stream, line_no, line FROM procgate.run_output ORDER BY segment, stream, line_no;

-- A program that exits non-zero fails its segment: the last lines of its
-- stderr become the segment's message and the run's error, which CALL raises
-- (SQLSTATE 38000). No row of a failed segment reaches word_counts.
CALL word_count(docs => TABLE (docs) PARTITION BY lang, min_len => 0)
  INTO word_counts WITH (run_tag = 'bad');
