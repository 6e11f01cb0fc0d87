import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const derive = promisify(pbkdf2);

/**
 * PostgreSQL's default (scram_iterations), and the fewest RFC 7677 allows:
 * some clients refuse fewer (pgjdbc's SCRAM library does). A random
 * password gains nothing from them, but each costs: the engine derives the
 * key once, PostgreSQL once more as it makes the role (its check that the
 * password is not empty), and a client at each login.
 */
const ITERATIONS = 4096;

/** A new random password: 32 characters of base64url, 192 bits. */
export function randomPassword(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5802,
 * as `CREATE ROLE ... PASSWORD` keeps it): handed over instead of the
 * password, so the password never reaches the server, its statement logs
 * or its statistics. `password` must be ASCII (SASLprep leaves it as is).
 */
export async function scramVerifier(password: string): Promise<string> {
  const salt = randomBytes(16);
  const salted = await derive(password, salt, ITERATIONS, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${String(ITERATIONS)}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
