// The viewer in a real browser (headless Chromium from Debian, through
// playwright-core): pages made by gallocy replay --view and gallocy view are
// loaded from disk, and the test reads what was drawn: lanes, arrows, the
// marked violation and the events before it, filters that change what is
// drawn, a linearizability failure's history per key, a million-event trace
// drawn by aggregation then in detail, and a screenshot that is not blank.
// Skipped only where Chromium is missing and CI is not set (in CI it must run).
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Page } from 'playwright-core';
import { findRepoRoot } from '../../src/cli/repo-root.js';
import { browserMissing, withBrowser } from './browser.js';

// What the page's code sees; these tests are compiled without the DOM's types.
declare const document: any, window: any, Image: any; // eslint-disable-line @typescript-eslint/no-explicit-any

const repoRoot = findRepoRoot();
const bin = path.join(repoRoot, 'bin', 'gallocy.js');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'gallocy-browser-'));
const gallocy = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { cwd: tmp, encoding: 'utf8', timeout: 300_000 });
const minimal = (name: string) => path.join(repoRoot, 'bench', 'shrink', `${name}.minimal.yaml`);

interface Drawn { events: number; arrows: number; highlighted: number; aggregated: boolean; height: number }

async function open(page: Page, file: string): Promise<string[]> {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('requestfailed', (r) => errors.push(`request ${r.url()}`));
  page.on('request', (r) => { if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) errors.push(`network request ${r.url()}`); });
  await page.goto(`file://${file}`);
  await page.waitForSelector('body[data-ready=true]', { timeout: 120_000 });
  return errors;
}

const drawn = (page: Page): Promise<Drawn> => page.evaluate(() => {
  const c = document.getElementById('timeline');
  return { events: Number(c.dataset['events']), arrows: Number(c.dataset['arrows']), highlighted: Number(c.dataset['highlighted']), aggregated: c.dataset['aggregated'] === 'true', height: c.clientHeight };
});

/** Redraws now (not at the next animation frame) and reports what was drawn. */
const redraw = async (page: Page): Promise<Drawn> => {
  await page.evaluate(() => (window as unknown as { gallocyView: { redraw(): void } }).gallocyView.redraw());
  return drawn(page);
};

const reason = browserMissing();
if (reason !== null && process.env['CI'] === undefined) {
  test(`browser tests skipped: ${reason}`, () => undefined);
} else {
  test('a shared-memory failure: lanes, arrows, the violation marked, and filters that change what is drawn', async () => {
    const html = path.join(tmp, 'skip-write-back.html');
    const r = gallocy('replay', '--scenario', minimal('skip-write-back'), '--seed', '37', '--view', html);
    assert.is(r.status, 1, r.stderr);
    await withBrowser(async (context) => {
      const page = await context.newPage();
      const errors = await open(page, html);
      assert.equal(errors, []);
      assert.match(await page.textContent('#violation') ?? '', /^VIOLATION coherence at/);
      const lanes = await page.$$eval('#f-hosts input', (boxes) => boxes.map((b) => (b as any).dataset['lane']));
      assert.equal(lanes, ['h1', 'h2']);
      // Opened at the violation: the events before it drawn and highlighted, messages as arrows.
      const atViolation = await drawn(page);
      assert.ok(atViolation.events > 10 && atViolation.arrows > 0 && atViolation.highlighted > 0, JSON.stringify(atViolation));
      // The red line at the violation's time, across the lanes.
      const red = await page.evaluate(() => {
        const v = (window as unknown as { gallocyView: { model: { violation: { t: number } }; xOf(t: number): number } }).gallocyView;
        const c = document.getElementById('timeline');
        const dpr = window.devicePixelRatio || 1;
        const x = Math.round(v.xOf(v.model.violation.t) * dpr);
        const px = c.getContext('2d')!.getImageData(x, Math.round(c.height / 2), 1, 1).data;
        return [px[0], px[1], px[2]];
      });
      assert.equal(red, [221, 0, 0]);
      // Page holders and leaders have rows.
      const rows = await page.evaluate(() => (window as unknown as { gallocyView: { rows(): Array<{ type: string }> } }).gallocyView.rows().map((r) => r.type));
      assert.ok(rows.includes('page') && rows.includes('leader'), rows.join(' '));

      await page.click('#zoom-fit');
      const all = await redraw(page);
      // A host filtered out: its lane goes, and so do its events.
      await page.uncheck('#f-hosts input[data-lane="h2"]');
      const oneHost = await redraw(page);
      assert.ok(oneHost.height < all.height && oneHost.events < all.events, `${JSON.stringify(all)} -> ${JSON.stringify(oneHost)}`);
      await page.check('#f-hosts input[data-lane="h2"]');
      // A kind: only grants.
      await page.fill('#f-kind', 'grant');
      const grants = await redraw(page);
      const grantCount = await page.evaluate(() => {
        const m = (window as unknown as { gallocyView: { model: { kind: number[]; kinds: string[] } } }).gallocyView.model;
        return m.kind.filter((k) => m.kinds[k]!.includes('grant')).length;
      });
      assert.is(grants.events, grantCount);
      await page.fill('#f-kind', '');
      // A category off: no page-protocol messages, fewer arrows.
      await page.uncheck('#f-categories input[data-category="vmm"]');
      const noVmm = await redraw(page);
      assert.ok(noVmm.arrows < all.arrows, `${all.arrows} -> ${noVmm.arrows} arrows`);
      await page.check('#f-categories input[data-category="vmm"]');
      // A page: only its events, and only its row of holders.
      const pageValue = await page.$eval('#f-page option:nth-child(2)', (o) => (o as any).value);
      await page.selectOption('#f-page', pageValue);
      const onePage = await redraw(page);
      assert.ok(onePage.events > 0 && onePage.events < all.events, `${all.events} -> ${onePage.events}`);

      await page.selectOption('#f-page', '');
      await page.click('#zoom-violation');
      const shot = path.join(tmp, 'skip-write-back.png');
      const png = await page.screenshot({ path: shot, fullPage: true });
      console.log(`  screenshot: ${shot}`);
      // Looked at through the browser's own decoder: many colours, and much that is not background.
      const look = await page.evaluate(async (data) => {
        const img = new Image();
        img.src = `data:image/png;base64,${data}`;
        await img.decode();
        const c = document.createElement('canvas');
        c.width = img.width; c.height = img.height;
        const ctx = c.getContext('2d')!;
        ctx.drawImage(img, 0, 0);
        const px = ctx.getImageData(0, 0, c.width, c.height).data;
        const colours = new Set<number>();
        let ink = 0;
        for (let i = 0; i < px.length; i += 4) {
          colours.add((px[i]! << 16) | (px[i + 1]! << 8) | px[i + 2]!);
          if (px[i]! + px[i + 1]! + px[i + 2]! < 600) ink++;
        }
        return { width: c.width, colours: colours.size, ink: ink / (px.length / 4) };
      }, png.toString('base64'));
      assert.ok(look.width >= 1000 && look.colours > 20 && look.ink > 0.01, JSON.stringify(look));
    });
  });

  test('a linearizability failure shows the history per key with the longest linearizable prefix', async () => {
    const html = path.join(tmp, 'local-reads.html');
    const r = gallocy('replay', '--scenario', minimal('local-reads'), '--seed', '360', '--view', html);
    assert.is(r.status, 1, r.stderr);
    await withBrowser(async (context) => {
      const page = await context.newPage();
      assert.equal(await open(page, html), []);
      assert.ok(await page.isVisible('#history'));
      const ops = await page.evaluate(() => ({
        lin: document.querySelectorAll('#keys rect.hop.lin').length,
        bad: document.querySelectorAll('#keys rect.hop.bad').length,
        heading: document.querySelector('#keys h3')?.textContent ?? '',
      }));
      assert.ok(ops.lin > 0 && ops.bad > 0, JSON.stringify(ops));
      assert.match(ops.heading, /could not be ordered/);
    });
  });

  test('a trace of a million events draws by pixel column, then each event when zoomed in', async () => {
    const trace = path.join(tmp, 'million.jsonl');
    const fd = openSync(trace, 'w');
    let buf = '';
    for (let i = 0; i < 1_000_000; i++) {
      const to = (i % 3) + 1;
      const from = ((i + 1) % 3) + 1;
      buf += `{"t":${i * 10},"host":${to},"kind":"heartbeat","group":${i % 4},"from":${from},"term":${1 + (i >> 16)},"commit":${i}}\n`;
      if (buf.length > 1 << 20) { writeSync(fd, buf); buf = ''; }
    }
    writeSync(fd, buf);
    closeSync(fd);
    const html = path.join(tmp, 'million.html');
    const v = gallocy('view', trace, '--out', html);
    assert.is(v.status, 0, v.stderr);
    await withBrowser(async (context) => {
      const page = await context.newPage();
      const started = Date.now();
      assert.equal(await open(page, html), []);
      const loaded = Date.now() - started;
      const whole = await drawn(page);
      assert.ok(whole.aggregated && whole.events === 1_000_000, JSON.stringify(whole));
      const timing = await page.evaluate(() => {
        const g = (window as unknown as { gallocyView: { state: { t0: number; t1: number }; redraw(): void } }).gallocyView;
        const t = performance.now();
        g.redraw();
        const aggregatedMs = performance.now() - t;
        g.state.t0 = 5_000_000; g.state.t1 = 5_020_000;
        const t2 = performance.now();
        g.redraw();
        return { aggregatedMs, detailMs: performance.now() - t2 };
      });
      const zoomed = await drawn(page);
      assert.ok(!zoomed.aggregated && zoomed.events > 100 && zoomed.arrows > 100, JSON.stringify(zoomed));
      // Figures, not verdicts: tests never fail on time.
      console.log(`  a million events: page loaded in ${loaded} ms; a redraw of all of it ${timing.aggregatedMs.toFixed(0)} ms, of 2,000 events ${timing.detailMs.toFixed(0)} ms`);
    });
  });
}

test.run();
