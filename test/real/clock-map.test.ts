// The clock map's arithmetic (offsets from round trips, uncertainty growing
// with drift), and lincheck reading the widened intervals: a history whose
// hosts' clocks are seconds apart, mapped, is judged as the real order was.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkLinearizable } from '../../src/check/linearizability.js';
import { parseGallocyRecords } from '../../src/check/formats/gallocy-records.js';
import { registerModel } from '../../src/check/register-model.js';
import { ClockMap } from '../../src/real/clock-map.js';

test('an offset from a round trip: the middle of it, right to within half of it', () => {
  const m = new ClockMap(0, false);
  assert.is(m.map(100), null, 'nothing before the first round trip');
  // Sent at 1000, received at 1200 (local); the reference read 5_000_100 meanwhile.
  const s = m.addRoundTrip(1000, 5_000_100, 1200);
  assert.equal(s, { atUs: 1100, offsetUs: 4_999_000, uncertaintyUs: 100 });
  assert.equal(m.map(1100), { us: 5_000_100, err: 101 });
  assert.throws(() => m.addRoundTrip(10, 0, 5), /received 5 before sent 10/);
});

test('uncertainty grows with drift since the sample; the best sample for each time is used', () => {
  const m = new ClockMap(1000, false); // 1000 ppm each way: 2 ms per second apart
  m.addRoundTrip(0, 500, 1000); // at 500, offset 0, ±500
  assert.equal(m.map(1_000_500), { us: 1_000_500, err: 500 + 2000 + 1 });
  m.addRoundTrip(2_000_000, 2_000_050, 2_000_100); // at 2_000_050, offset 0, ±50
  // Near the second, tighter sample it wins; near the first, the first.
  assert.is(m.map(2_000_050)!.err, 51);
  assert.is(m.map(500)!.err, 501);
});

test('the reference host maps to itself, exactly', () => {
  const m = new ClockMap(1000, true);
  assert.ok(m.ready);
  assert.equal(m.map(123), { us: 123, err: 0 });
});

/** A write on host 1, then (really later) a read of its value on host 2, whose clock is 10 s behind. */
function skewedHistory(mapped: boolean): string {
  const m = new ClockMap(100, false);
  const skew = -10_000_000; // host 2 = reference - 10 s
  // Round trip: host 2 sends at its 50_000, the reference answers at its 10_050_020, host 2 receives at 50_040.
  m.addRoundTrip(50_000, 50_020 - skew, 50_040);
  const write = { host: 1, thread: 0, kind: 'write', addr: 0, value: 7, call: 10_100_000, ret: 10_100_100 };
  // Really 10_100_300..10_100_400 on the reference's clock: after the write returned.
  const readLocal = { call: 10_100_300 + skew, ret: 10_100_400 + skew };
  const [c, r] = [m.map(readLocal.call)!, m.map(readLocal.ret)!];
  const read = mapped
    ? { host: 2, thread: 1, kind: 'read', addr: 0, value: 7, call: c.us, ret: r.us, err: Math.max(c.err, r.err) }
    : { host: 2, thread: 1, kind: 'read', addr: 0, value: 7, ...readLocal, err: 0 };
  // And a read of the initial value by host 1 after the write: stale, so never linearizable.
  return [write, read].map((x) => JSON.stringify(x)).join('\n');
}

test('lincheck on a skewed history: mapped, the read follows the write it saw; unmapped, it comes 10 s before it', () => {
  const ok = checkLinearizable(registerModel, parseGallocyRecords(skewedHistory(true)));
  assert.is(ok.verdict, 'linearizable');
  const bad = checkLinearizable(registerModel, parseGallocyRecords(skewedHistory(false)));
  assert.is(bad.verdict, 'not-linearizable', 'a read returning 7 ten seconds before 7 was written');
});

test('the records\' err widens each interval; a negative err is refused', () => {
  const [op] = parseGallocyRecords('{"host":1,"thread":0,"kind":"write","addr":0,"value":1,"call":100,"ret":200,"err":30}');
  assert.equal([op!.call, op!.ret], [70, 230]);
  const [old] = parseGallocyRecords('{"host":1,"thread":0,"kind":"write","addr":0,"value":1,"call":100,"ret":200}');
  assert.equal([old!.call, old!.ret], [100, 200]);
  assert.throws(() => parseGallocyRecords('{"host":1,"thread":0,"kind":"read","addr":0,"value":0,"call":1,"ret":2,"err":-1}'), /field 'err': expected a number >= 0/);
});

test.run();
