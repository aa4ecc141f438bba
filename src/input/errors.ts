// Errors the command line turns into exit codes (design section 9): bad usage
// or bad input exits 2, with a message that names the file, the field and what
// was expected. Anything else that escapes a command is an internal error.

/** Bad input: an unreadable or invalid file, an unknown scenario name, a bad flag value. Exit 2. */
export class InputError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** Exit codes shared by every command. */
export const EXIT_OK = 0;
export const EXIT_CHECK_FAILED = 1;
export const EXIT_BAD_INPUT = 2;
