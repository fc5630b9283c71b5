// Shared set-up for the browser tests: a real bando (embedded private PostgreSQL cluster, the
// sample data imported through GDAL) and Debian's Chromium driven by playwright-core.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const root = resolve(here, '../..');
export const bandoBin = process.env.BANDO_BIN ?? join(root, 'target/debug/bando');
export const resultsDir = join(root, 'web/test-results');

const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

function embeddedEnv() {
  const env = { ...process.env };
  delete env.DATABASE_URL; // the embedded default
  return env;
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

/**
 * Writes the sample, imports it, and starts `bando serve` on a free port.
 * `imports`: [sample file, layer, ...extra import arguments] to load (default: the 12 Binh Phuoc communes);
 * `parcels`: how many parcels the sample holds (`bando sample --parcels`, default 20000);
 * `env`: extra environment of `bando serve` (e.g. `BANDO_AUTH_DEV_ISSUER`); `port`: a fixed
 * port (the development issuer's address names it), else any free one.
 */
export async function startBando({ imports = [['communes.gpkg', 'communes']], parcels, env: extraEnv = {}, port = 0 } = {}) {
  if (!existsSync(bandoBin)) throw new Error(`${bandoBin} is missing: run cargo build first`);
  const work = mkdtempSync(join(tmpdir(), 'bando-web-'));
  const state = join(work, 'state');
  const sample = join(work, 'sample');
  const env = embeddedEnv();
  const sampleArgs = ['sample', '--out', sample];
  if (parcels !== undefined) sampleArgs.push('--parcels', String(parcels));
  execFileSync(bandoBin, sampleArgs, { env, stdio: 'pipe' });
  for (const [file, layer, ...extra] of imports) {
    execFileSync(bandoBin, ['--data-dir', state, 'import', join(sample, file), '--layer', layer, ...extra], { env, stdio: 'pipe' });
  }
  // The tile store's background seeding stops at z12 unless a test says otherwise: z16 of the
  // sample's communes is tens of thousands of renders beside the test.
  const child = spawn(bandoBin, ['--data-dir', state, 'serve', '--listen', `127.0.0.1:${port}`],
    { env: { BANDO_TILES_SEED_MAX_ZOOM: '12', ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  const url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`bando did not start:\n${log}`)), 90_000);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/bando: serving (http:\/\/\S+?)\/?\n/);
      if (m) { clearTimeout(timer); ok(m[1]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); fail(new Error(`bando exited ${code}:\n${log}`)); });
  });
  return {
    url,
    sample,
    state,
    async stop() {
      const exited = new Promise((ok) => child.once('exit', (code, signal) => ok({ code, signal })));
      child.kill('SIGTERM');
      const { code } = await exited;
      rmSync(work, { recursive: true, force: true });
      if (code !== 0) throw new Error(`bando exited with ${code} on SIGTERM:\n${log}`);
    },
  };
}

/** Launches Debian's Chromium headless. */
export async function launchBrowser() {
  mkdirSync(resultsDir, { recursive: true });
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
}
