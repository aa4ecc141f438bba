// Fault handoff latency: from a worker's access to a protected page to the
// worker resuming, when the main thread answers at once. Prints nothing; the
// caller reports. The design measured 45-60 us on a 2 vCPU VM.
import { Worker } from 'node:worker_threads';
import { loadNativeMemory } from './native-memory.js';

const WARMUP = 32;
const PAGE = 4096;

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] ?? NaN;
}

export async function measureFaultHandoff(samples: number): Promise<{ p50Us: number; p99Us: number }> {
  if (!Number.isInteger(samples) || samples <= 0) throw new RangeError(`samples must be a positive integer, got ${samples}`);
  const pages = samples + WARMUP;
  const mem = loadNativeMemory({ size: pages * PAGE, pageSize: PAGE });
  mem.onFault((req) => mem.setProtection(req.page, req.access));
  const worker = new Worker(new URL('./native-worker-bench.js', import.meta.url), {
    workerData: { gallocyNativeBench: true, address: mem.address, size: mem.size, pageSize: PAGE, pages },
  });
  try {
    const times = await new Promise<Float64Array>((resolve, reject) => {
      worker.once('message', (m: { times: Float64Array }) => resolve(m.times));
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`bench worker exited with code ${code} before reporting`)));
    });
    const measured = Float64Array.from(times.subarray(WARMUP)).sort();
    return { p50Us: percentile(measured, 0.5), p99Us: percentile(measured, 0.99) };
  } finally {
    mem.close();
    await worker.terminate();
  }
}
