// Test helper run as a child process (node native-child.js --gallocy-native-child <mode>).
// Imported by a test runner it does nothing.
//   abort: the main JS thread touches a protected heap page; the shim must
//          abort with a message rather than deadlock.
//   wasm:  with a heap open, a WebAssembly out-of-bounds load on the main
//          thread and in a worker must still throw RuntimeError.
import { Worker } from 'node:worker_threads';
import { loadNativeMemory } from '../../src/real/native-memory.js';
import { heapView } from '../../src/real/native-worker-view.js';
import { wasmOutOfBounds } from './native-wasm.js';

async function main(mode: string | undefined): Promise<void> {
  const mem = loadNativeMemory({ size: 8 * 4096, pageSize: 4096 });
  if (mode === 'abort') {
    const view = heapView(mem.address, mem.size); // the footgun under test
    process.stdout.write('touching page 3 from the main thread\n');
    const v = view[3 * 4096 + 1];
    process.stdout.write(`survived: read ${String(v)}\n`);
    mem.close();
    process.exitCode = 3;
    return;
  }
  if (mode === 'wasm') {
    const mainResult = wasmOutOfBounds();
    const worker = new Worker(new URL('./native-worker.js', import.meta.url), {
      workerData: { gallocyNativeTest: true, address: mem.address, size: mem.size, pageSize: mem.pageSize },
    });
    const workerResult = await new Promise<string>((resolve, reject) => {
      worker.once('message', (m: { error?: string }) => resolve(m.error ?? 'no reply error'));
      worker.once('error', reject);
      worker.postMessage({ id: 1, op: 'wasm-oob' });
    });
    await worker.terminate();
    mem.close();
    process.stdout.write(`${JSON.stringify({ main: mainResult, worker: workerResult })}\n`);
    return;
  }
  mem.close();
  throw new Error(`unknown mode ${String(mode)}`);
}

if (process.argv[2] === '--gallocy-native-child') {
  main(process.argv[3]).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  });
}
