// `gallocy view TRACE [--out FILE.html]`: one self-contained HTML page of a
// trace written by `gallocy replay --trace` (see view-model.ts for what it
// shows, view-page.ts for how). Exit 2 for a trace it cannot read.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../input/errors.js';
import { formatCount, type Io } from './output.js';
import { buildViewModel, TraceLineError } from './view-model.js';
import { renderPage } from './view-page.js';

export interface ViewArgs {
  trace: string;
  out?: string;
}

/** `run.jsonl` -> `run.html`. */
export function defaultPageFile(trace: string): string {
  return trace.replace(/(\.jsonl|\.json|\.trace)?$/, '.html');
}

/** Writes the page of a trace file; returns the page's path and how many events it shows. */
export function writeViewPage(trace: string, out: string, title: string): { file: string; events: number } {
  let text: string;
  try {
    text = readFileSync(trace, 'utf8');
  } catch (err) {
    throw new InputError(`${path.resolve(trace)}: cannot read the trace file: ${(err as Error).message}`);
  }
  let model;
  try {
    model = buildViewModel(text.split('\n'), title);
  } catch (err) {
    if (err instanceof TraceLineError) throw new InputError(`${path.resolve(trace)}: ${err.message}`);
    throw err;
  }
  if (model.t.length === 0) throw new InputError(`${path.resolve(trace)}: expected trace events (JSON lines from gallocy replay --trace), found none`);
  try {
    writeFileSync(out, renderPage(model));
  } catch (err) {
    throw new InputError(`${path.resolve(out)}: cannot write the page: ${(err as Error).message}`);
  }
  return { file: out, events: model.t.length };
}

export function viewCommand(args: ViewArgs, deps: { io: Io }): number {
  const out = args.out ?? defaultPageFile(args.trace);
  const page = writeViewPage(args.trace, out, path.basename(args.trace));
  deps.io.out(`wrote ${page.file} (${formatCount(page.events)} events); open it in a browser\n`);
  return 0;
}
