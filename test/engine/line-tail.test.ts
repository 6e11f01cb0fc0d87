import { describe, expect, it } from 'vitest';
import { LineTail } from '../../src/engine/executors/line-tail.js';

describe('LineTail', () => {
  it('keeps the last lines, numbered from the start of the stream, across chunk boundaries', () => {
    const tail = new LineTail('stdout', 2);
    tail.push('one\ntw');
    tail.push('o\r\nthree\nfo');
    tail.end();
    expect(tail.output()).toEqual([
      { stream: 'stdout', line_no: 3, line: 'three' },
      { stream: 'stdout', line_no: 4, line: 'fo' },
    ]);
    expect(tail.tail(1)).toBe('fo');
  });

  it('cuts a runaway line instead of holding all of it', () => {
    const tail = new LineTail('stderr', 5);
    for (let i = 0; i < 100; i += 1) tail.push('x'.repeat(10_000));
    tail.push('\nshort\n');
    const lines = tail.output();
    expect(lines.map((l) => l.line.length)).toEqual([64 * 1024, 5]);
  });
});
