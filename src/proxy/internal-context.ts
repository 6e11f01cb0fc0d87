/**
 * The CONTEXT of an error PostgreSQL raised while running one of our
 * statements lists the call stack innermost first, so its last lines are
 * procgate's own: the API function the statement was rewritten into and the
 * internal functions it called. Those lines say nothing to the user and are
 * hidden; every line from the first one that is not ours inwards is kept,
 * since it is the user's (a function of theirs called by an argument or a
 * TABLE query), and so is everything inside it.
 */

/** A CONTEXT line that quotes SQL text, which may run over several lines. */
const QUOTING_FRAME = /^(?:SQL statement|PL\/pgSQL expression|PL\/pgSQL assignment) "/;
const PLPGSQL_FRAME = /^PL\/pgSQL function (?:(\w+)\.)?(\w+)\(/;
const SQL_FUNCTION_FRAME = /^SQL function "(\w+)"/;
const OUR_SCHEMAS: ReadonlySet<string> = new Set(['procgate', 'procgate_internal']);

/**
 * `context` without the outer frames that belong to procgate's functions;
 * undefined when nothing is left. `statementText` is the rewritten text
 * PostgreSQL ran, which names the API function called at the top.
 *
 * @example
 * withoutInternalContext('SQL function "ctx_f" statement 1\nPL/pgSQL function procgate_internal.check(text) line 3 at EXECUTE', '...')
 * // 'SQL function "ctx_f" statement 1'
 */
export function withoutInternalContext(context: string, statementText: string): string | undefined {
  const frames = splitFrames(context);
  let keep = frames.length;
  let outer: string | undefined;
  for (let i = frames.length - 1; i >= 0; i -= 1) {
    const frame = frames[i]!;
    if (!isOurFrame(frame, outer, statementText)) break;
    outer = frame;
    keep = i;
  }
  if (keep === frames.length) return context;
  return keep === 0 ? undefined : frames.slice(0, keep).join('\n');
}

/** Whether `frame`, called from `outer` (a frame of ours; undefined at the top), is one of procgate's. */
function isOurFrame(frame: string, outer: string | undefined, statementText: string): boolean {
  const plpgsql = PLPGSQL_FRAME.exec(frame);
  if (plpgsql?.[1] !== undefined && OUR_SCHEMAS.has(plpgsql[1])) return true;
  // SQL text run by a PL/pgSQL function of ours is ours (the user's own functions it calls are not).
  if (QUOTING_FRAME.test(frame)) return outer !== undefined && PLPGSQL_FRAME.test(outer);
  const name = plpgsql?.[2] ?? SQL_FUNCTION_FRAME.exec(frame)?.[1];
  if (name === undefined) return false;
  // An unqualified function: ours when the text that called it names it in our schemas,
  // or when a function of ours called it directly (they call no function of the user's).
  if (outer === undefined) return callsOurs(statementText, name);
  if (QUOTING_FRAME.test(outer)) return callsOurs(outer, name);
  return true;
}

function callsOurs(text: string, name: string): boolean {
  return text.includes(`procgate.${name}(`) || text.includes(`procgate_internal.${name}(`);
}

/**
 * The frames of a CONTEXT, one per line, except that SQL text quoted in a
 * frame keeps its own line breaks: such a frame ends at the first line that
 * ends with the closing quote.
 */
function splitFrames(context: string): string[] {
  const frames: string[] = [];
  let open = false;
  for (const line of context.split('\n')) {
    if (open) {
      frames[frames.length - 1] += `\n${line}`;
      open = !line.endsWith('"');
      continue;
    }
    frames.push(line);
    const opening = QUOTING_FRAME.exec(line);
    // Past its opening quote, the frame's text must end with the closing one.
    open = opening !== null && !(line.length > opening[0].length && line.endsWith('"'));
  }
  return frames;
}
