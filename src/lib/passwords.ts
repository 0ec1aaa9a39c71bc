import { randomInt } from 'node:crypto';

const LOWER = 'abcdefghijkmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
const DIGITS = '23456789';
// Cognito's accepted special characters, minus quotes and backslash (they complicate shell use).
const SYMBOLS = '^$*.[]{}()?!@#%&/,><:;|_~`=+-';
const CLASSES = [LOWER, UPPER, DIGITS, SYMBOLS] as const;
const ALPHABET = CLASSES.join('');

/** Length kept in step with the pool's MinimumLength in resources/cognito.yml. */
export const PASSWORD_LENGTH = 24;

/**
 * A password from the CSPRNG with every character class the pool policy requires; a draw missing one
 * is drawn again (rare at this length) rather than patched, so every position stays uniform.
 */
export function generatePassword(length = PASSWORD_LENGTH): string {
  for (;;) {
    let password = '';
    for (let i = 0; i < length; i++) password += ALPHABET[randomInt(ALPHABET.length)];
    if (CLASSES.every((chars) => [...password].some((c) => chars.includes(c)))) return password;
  }
}
