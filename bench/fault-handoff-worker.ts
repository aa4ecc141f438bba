// Worker side of measureFaultHandoff(): touch each page once, timing the access
// (fault, request on the pipe, answer on the main thread, futex wake, retry).
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { heapView } from '../src/real/native-worker-view.js';

interface BenchData {
  gallocyNativeBench: true;
  address: bigint;
  size: number;
  pageSize: number;
  pages: number;
}

function isBenchData(d: unknown): d is BenchData {
  return typeof d === 'object' && d !== null && (d as { gallocyNativeBench?: unknown }).gallocyNativeBench === true;
}

if (!isMainThread && parentPort !== null && isBenchData(workerData)) {
  const data = workerData;
  const port = parentPort;
  const view = heapView(data.address, data.size);
  const times = new Float64Array(data.pages);
  let sink = 0;
  for (let p = 0; p < data.pages; p++) {
    const t0 = performance.now();
    sink += view[p * data.pageSize] ?? 0;
    times[p] = (performance.now() - t0) * 1000;
  }
  port.postMessage({ times, sink });
}
