import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

/**
 * One round of PBKDF2: key stretching makes a guessed password costly to
 * try, and a password of 192 random bits is never guessed. Every round
 * costs: the engine derives the key once, PostgreSQL once more as it makes
 * the role (its check that the password is not empty) and a client at each
 * login; at PostgreSQL's default (4096) that was some 4 ms of CPU per
 * segment. PostgreSQL, libpq (psql, psycopg), node-postgres and pgjdbc
 * with its SCRAM library 3.x (42.7.13 tried) take any count from 1; older
 * pgjdbc (42.5.5 tried: SCRAM 2.x) refuses fewer than 4096, RFC 7677's
 * minimum for passwords people choose.
 */
export const SCRAM_ITERATIONS = 1;

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
export function scramVerifier(password: string, iterations = SCRAM_ITERATIONS): string {
  const salt = randomBytes(16);
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${String(iterations)}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
