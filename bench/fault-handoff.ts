// Fault handoff latency: from a worker's access to a protected page to the
// worker resuming, when the main thread answers at once. Prints nothing; the
// caller reports. The design measured 45-60 us on a 2 vCPU VM.
import { Worker } from 'node:worker_threads';
import { loadNativeMemory } from '../src/real/native-memory.js';
import { latencyPercentiles } from './percentiles.js';

const WARMUP = 32;
const PAGE = 4096;

export async function measureFaultHandoff(samples: number): Promise<{ p50Us: number; p99Us: number }> {
  if (!Number.isInteger(samples) || samples <= 0) throw new RangeError(`samples must be a positive integer, got ${samples}`);
  const pages = samples + WARMUP;
  const mem = loadNativeMemory({ size: pages * PAGE, pageSize: PAGE });
  mem.onFault((req) => mem.setProtection(req.page, req.access));
  const worker = new Worker(new URL('./fault-handoff-worker.js', import.meta.url), {
    workerData: { gallocyNativeBench: true, address: mem.address, size: mem.size, pageSize: PAGE, pages },
  });
  try {
    const times = await new Promise<Float64Array>((resolve, reject) => {
      worker.once('message', (m: { times: Float64Array }) => resolve(m.times));
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`bench worker exited with code ${code} before reporting`)));
    });
    const { p50, p99 } = latencyPercentiles(Array.from(times.subarray(WARMUP)));
    return { p50Us: p50, p99Us: p99 };
  } finally {
    mem.close();
    await worker.terminate();
  }
}
