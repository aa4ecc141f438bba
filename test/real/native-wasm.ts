// Test helper: a WebAssembly out-of-bounds load, which V8 turns into a
// RuntimeError through its SIGSEGV trap handler (guard pages), so it exercises
// the shim's chaining to the previously installed handler.

// (module (memory 1) (func (export "load") (param i32) (result i32) local.get 0 i32.load))
const WASM_LOAD = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f, // type: (i32) -> i32
  0x03, 0x02, 0x01, 0x00, // function 0 has type 0
  0x05, 0x03, 0x01, 0x00, 0x01, // memory: min 1 page
  0x07, 0x08, 0x01, 0x04, 0x6c, 0x6f, 0x61, 0x64, 0x00, 0x00, // export "load" = func 0
  0x0a, 0x09, 0x01, 0x07, 0x00, 0x20, 0x00, 0x28, 0x02, 0x00, 0x0b, // code: local.get 0; i32.load; end
]);

// The project's lib settings carry no WebAssembly declarations; this is the little used here.
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/**
 * Loads in bounds (expects 0), then 1 GiB out of bounds. Returns the name and
 * message of what the out-of-bounds load threw, or "no error".
 */
export function wasmOutOfBounds(): string {
  const instance = new wasm.Instance(new wasm.Module(WASM_LOAD));
  const load = instance.exports.load as (addr: number) => number;
  if (load(16) !== 0) return 'in-bounds load returned non-zero';
  try {
    load(0x40000000);
    return 'no error';
  } catch (err) {
    return err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err);
  }
}
