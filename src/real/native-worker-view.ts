// For worker threads: a typed-array view of the application mapping.
//
// koffi.view() gives an external ArrayBuffer over native memory. It can be
// neither shared nor transferred to another thread (structured clone would
// copy it, which on the main thread means touching the heap), so each worker
// loads koffi itself and makes its own view from the address the main thread
// hands it (NativeMemory.handle(), a bigint, travels in workerData).
//
// Never call heapView() on the main JS thread: touching a protected page there
// aborts the process (it would otherwise deadlock waiting for itself).

import koffi from 'koffi';
import type { HeapHandle } from './native-memory.js';

export function heapView(address: bigint, size: number): Uint8Array {
  if (typeof address !== 'bigint' || address === 0n) throw new TypeError('gallocy: heapView needs the heap address (a bigint)');
  return new Uint8Array(koffi.view(address, size));
}

export function heapViewOf(handle: HeapHandle): Uint8Array {
  return heapView(handle.address, handle.size);
}
