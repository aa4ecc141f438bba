// Test helper: a worker thread that reads and writes the native heap on
// request. Imported on the main thread (e.g. by a test runner matching
// "native") it does nothing.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { heapView } from '../../src/real/native-worker-view.js';
import { wasmOutOfBounds } from './native-wasm.js';

export type WorkerOp =
  | { id: number; op: 'read'; page: number; offset: number }
  | { id: number; op: 'write'; page: number; offset: number; value: number }
  /** Reads the byte again and again (ctl[1]: reads so far, ctl[2]: the last value) until ctl[0] is set; answers the count. */
  | { id: number; op: 'read-loop'; page: number; offset: number; ctl: Int32Array }
  | { id: number; op: 'wasm-oob' };

export type WorkerReply = { id: number; value: number } | { id: number; error: string };

export interface NativeTestWorkerData {
  gallocyNativeTest: true;
  address: bigint;
  size: number;
  pageSize: number;
}

function isTestData(d: unknown): d is NativeTestWorkerData {
  return typeof d === 'object' && d !== null && (d as { gallocyNativeTest?: unknown }).gallocyNativeTest === true;
}

if (!isMainThread && parentPort !== null && isTestData(workerData)) {
  const data = workerData;
  const port = parentPort;
  const view = heapView(data.address, data.size);
  port.on('message', (msg: WorkerOp) => {
    try {
      switch (msg.op) {
        case 'read':
          port.postMessage({ id: msg.id, value: view[msg.page * data.pageSize + msg.offset] ?? -1 } satisfies WorkerReply);
          break;
        case 'write':
          view[msg.page * data.pageSize + msg.offset] = msg.value;
          port.postMessage({ id: msg.id, value: msg.value } satisfies WorkerReply);
          break;
        case 'read-loop': {
          const at = msg.page * data.pageSize + msg.offset;
          while (Atomics.load(msg.ctl, 0) === 0) {
            Atomics.store(msg.ctl, 2, view[at] ?? -1);
            Atomics.add(msg.ctl, 1, 1);
          }
          port.postMessage({ id: msg.id, value: Atomics.load(msg.ctl, 1) } satisfies WorkerReply);
          break;
        }
        case 'wasm-oob':
          port.postMessage({ id: msg.id, error: wasmOutOfBounds() } satisfies WorkerReply);
          break;
      }
    } catch (err) {
      port.postMessage({ id: msg.id, error: err instanceof Error ? err.message : String(err) } satisfies WorkerReply);
    }
  });
}
