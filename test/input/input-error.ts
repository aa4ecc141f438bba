// Runs fn and returns the InputError it threw; fails if it threw nothing or something else.
import { InputError } from '../../src/input/errors.js';

export function inputError(fn: () => unknown): InputError {
  try {
    fn();
  } catch (err) {
    if (err instanceof InputError) return err;
    throw err;
  }
  throw new Error('expected an InputError');
}
