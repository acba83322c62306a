// Loads the dashboard in headless Chromium (Debian's package, driven by
// playwright-core), waits for live predictions to add markers, checks what a
// person would read off the page (candles with markers on them, or the line a
// server without bars gets), and saves a screenshot.
//
//   node dashboard_test.js --url http://127.0.0.1:PORT/ [--screenshot dashboard.png]
//   node dashboard_test.js --mock WEB_DIR ...   serves WEB_DIR with mock_server.js
//   ... --expect-error TEXT    the page must instead show an error containing TEXT
//   ... --candles yes|no       candles with every marker on one, or (no bars served) the line
//
// Exit 0 when every check passes; 1 with the failed check on stderr.
'use strict';

const { chromium } = require('playwright-core');

function parseArgs(argv) {
  const args = { url: '', mock: '', screenshot: 'dashboard.png', minMarkers: 20, timeoutMs: 60000,
    chromium: process.env.PRICECAST_CHROMIUM || '/usr/bin/chromium', expectIgnored: -1, expectError: '',
    minSymbols: 0, candles: '' };
  const names = { '--url': 'url', '--mock': 'mock', '--screenshot': 'screenshot', '--min-markers': 'minMarkers',
    '--timeout-ms': 'timeoutMs', '--chromium': 'chromium', '--expect-ignored': 'expectIgnored',
    '--expect-error': 'expectError', '--min-symbols': 'minSymbols', '--candles': 'candles' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = names[argv[i]];
    if (!key || i + 1 >= argv.length) throw new Error(`usage: unknown option or missing value: ${argv[i]}`);
    args[key] = typeof args[key] === 'number' ? Number(argv[i + 1]) : argv[i + 1];
    if (Number.isNaN(args[key])) throw new Error(`usage: ${argv[i]} needs a number`);
  }
  if (!args.url === !args.mock) throw new Error('usage: give exactly one of --url and --mock');
  if (!['', 'yes', 'no'].includes(args.candles)) throw new Error('usage: --candles takes yes or no');
  return args;
}

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
  console.log(`ok: ${message}`);
}

const markers = (page) => page.$eval('#chart', (el) => Number(el.dataset.markers));
const chartData = (page) => page.$eval('#chart', (el) => ({ markers: Number(el.dataset.markers),
  candles: Number(el.dataset.candles), points: Number(el.dataset.points), unplaced: Number(el.dataset.unplaced) }));
const text = (page, selector) => page.$eval(selector, (el) => el.textContent.trim());

async function checkError(page, args) {
  await page.waitForFunction((t) => {
    const el = document.getElementById('chart-error');
    return !el.hidden && el.textContent.includes(t);
  }, args.expectError, { timeout: args.timeoutMs });
  check(true, `the page explains: ${await text(page, '#chart-error')}`);
}

// Every symbol listed (a drop-down past a dozen) and its latest row in the table.
async function checkSymbols(page, args) {
  await page.waitForFunction((n) => document.querySelectorAll('#latest tr').length >= n,
    args.minSymbols, { timeout: args.timeoutMs });
  const listed = await page.evaluate(() => {
    const list = document.querySelector('#symbols select');
    return list ? list.options.length : -document.querySelectorAll('#symbols button').length;
  });
  if (args.minSymbols > 12) check(listed >= args.minSymbols, `symbols listed in a drop-down (${listed})`);
  else check(-listed >= args.minSymbols, `symbols listed as tabs (${-listed})`);
}

async function checkPage(page, args) {
  await page.waitForSelector('#chart canvas', { timeout: args.timeoutMs });
  check(true, 'the chart canvas exists');

  await page.waitForFunction((n) => Number(document.getElementById('chart').dataset.markers) >= n,
    args.minMarkers, { timeout: args.timeoutMs });
  const first = await markers(page);
  check(first >= args.minMarkers, `at least ${args.minMarkers} markers after load (${first})`);

  // Live updates: the socket must add bars beyond what REST history gave.
  await page.waitForFunction((n) => Number(document.getElementById('chart').dataset.markers) >= n,
    first + 3, { timeout: args.timeoutMs });
  check(await markers(page) >= first + 3, `markers grow live (${first} -> ${await markers(page)})`);
  check(await page.$eval('body', (b) => b.dataset.ws) === 'open', 'the WebSocket is open');

  if (args.candles === 'yes') await checkCandles(page, args.timeoutMs);
  if (args.candles === 'no') await checkLine(page);

  // One read of all three: a live update may land between separate reads.
  const shown = await page.evaluate(() => ['down', 'stable', 'up'].map(
    (k) => document.getElementById(`prob-${k}`).textContent.trim()));
  const probs = shown.map((t, i) => {
    check(/^\d{1,3}\.\d%$/.test(t), `probability ${['down', 'stable', 'up'][i]} is filled (${t})`);
    return Number(t.slice(0, -1));
  });
  const sum = probs.reduce((a, b) => a + b, 0);
  check(Math.abs(sum - 100) < 0.3, `the three probabilities add up to 100% (${sum.toFixed(1)})`);

  const name = await text(page, '#model-name');
  const version = await text(page, '#model-version');
  check(name !== '' && name !== '–', `model name is filled (${name})`);
  check(/^\d+$/.test(version), `model version is filled (${version})`);

  await page.waitForFunction(() => /^resolved \d+, correct \d+/.test(
    document.getElementById('accuracy-symbol').textContent), null, { timeout: args.timeoutMs });
  check(true, `accuracy is shown (${await text(page, '#accuracy-symbol')}; ${await text(page, '#accuracy-title')})`);

  await checkAccuracy(page, args.timeoutMs);
  if (args.minSymbols > 0) await checkSymbols(page, args);

  if (args.expectIgnored >= 0) {
    const ignored = await page.$eval('#ignored', (el) => Number(el.dataset.count));
    check(ignored === args.expectIgnored, `malformed messages counted and skipped (${ignored})`);
  }
}

// Candles drawn, and every marker on one: the page places a prediction's
// marker on the candle closing at its bar_time (none left waiting for its bar),
// and the server's bars have a close_time for every prediction's bar_time.
async function checkCandles(page, timeoutMs) {
  await page.waitForFunction(() => {
    const el = document.getElementById('chart');
    return Number(el.dataset.candles) > 0 && Number(el.dataset.unplaced) === 0;
  }, null, { timeout: timeoutMs });
  const shown = await chartData(page);
  check(shown.candles > 0 && shown.markers > 0,
    `candles with markers (${shown.candles} candles, ${shown.markers} markers, ${shown.unplaced} without a candle)`);
  const missing = await page.evaluate(async () => {
    const symbol = document.getElementById('chart-title').textContent;
    const key = new URLSearchParams(location.search).get('api_key');
    const get = (path) => fetch(path, { headers: key ? { 'X-API-Key': key } : {} }).then((r) => r.json());
    // Predictions first: a bar is stored before its prediction exists.
    const preds = (await get(`/v1/predictions?symbol=${encodeURIComponent(symbol)}`)).predictions;
    const bars = (await get(`/v1/bars?symbol=${encodeURIComponent(symbol)}`)).bars;
    const closes = new Set(bars.map((b) => Date.parse(b.close_time)));
    const oldest = Math.min(...closes);
    return preds.filter((p) => Date.parse(p.bar_time) >= oldest && !closes.has(Date.parse(p.bar_time))).length;
  });
  check(missing === 0, `every prediction's bar_time is a candle's close_time on the server (${missing} not)`);
}

async function checkLine(page) {
  const shown = await chartData(page);
  check(shown.candles === 0 && shown.points > 0 && shown.points === shown.markers,
    `no bars served: a line of ${shown.points} predicted closes carries the markers`);
}

// What the page holds against the server's history of the shown symbol, then
// its "resolved N, correct M" against a recount over exactly the bar times it
// scored. A bar the socket coalesced away is refilled from REST, so the first
// check retries for a while before failing. The page scores by direction until
// the registry's label rule arrives; from then on, one recount decides (a retry
// would give a page that scores wrongly more chances to match by luck).
async function checkAccuracy(page, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let seen = await readScored(page);
  for (; !heldAll(seen).ok && Date.now() < deadline; seen = await readScored(page)) await page.waitForTimeout(200);
  const held = heldAll(seen);
  check(held.ok, held.message);
  if (recountAccuracy(seen) === null)
    return console.log('skip: accuracy cross-check needs a model version with fixed or quantile one-bar labels');
  for (; !seen.labelled && Date.now() < deadline; seen = await readScored(page)) await page.waitForTimeout(200);
  check(seen.labelled, 'the page scores by the model version\'s label rule (it still scores by direction)');
  const recount = recountAccuracy(seen);
  check(recount.ok, recount.message);
}

// Bar times in seconds, read as the page reads them (Date.parse keeps milliseconds at most).
const seconds = (iso) => Date.parse(iso.replace(/(\.\d{3})\d+/, '$1')) / 1000;

// In one read, the page's accuracy text and the bar times it was computed over
// (data-times on #accuracy-symbol), then the server's history of that symbol
// and the registry records of its model.
async function readScored(page) {
  const seen = await page.evaluate(async () => {
    const el = document.getElementById('accuracy-symbol');
    const shown = { text: el.textContent, times: el.dataset.times || '',
      symbol: document.getElementById('chart-title').textContent,
      labelled: document.getElementById('accuracy-title').textContent === 'Accuracy of resolved predictions' };
    const key = new URLSearchParams(location.search).get('api_key');
    const get = (path) => fetch(path, { headers: key ? { 'X-API-Key': key } : {} }).then((r) => r.json());
    const history = await get(`/v1/predictions?symbol=${encodeURIComponent(shown.symbol)}`);
    const preds = history.predictions || [];  // a 404 before the first prediction: none yet
    const model = preds.length ? await get(`/v1/models/${encodeURIComponent(preds[0].model)}`) : {};
    return { ...shown, preds, versions: model.versions || [] };
  });
  const times = seen.times.split(',').filter(Boolean).map(Number);
  return { ...seen, times, held: new Set(times), byTime: new Map(seen.preds.map((p) => [seconds(p.bar_time), p])) };
}

// Every prediction the server has up to the newest the page holds: none the
// socket skipped is left unrefilled (the first ones included, which came
// before the page's history had any).
function heldAll(seen) {
  const newest = Math.max(...seen.times);
  const owed = [...seen.byTime.keys()].filter((t) => t <= newest);
  const missing = owed.filter((t) => !seen.held.has(t));
  const first = missing.length ? `, first at ${new Date(missing[0] * 1000).toISOString()}` : '';
  return { ok: seen.times.length > 0 && missing.length === 0,
    message: `the page holds every prediction of ${seen.symbol} the server has up to its newest ` +
      `(${owed.length - missing.length} of ${owed.length}${first})` };
}

// The recount takes the bar times from the page and everything else from the
// server: each prediction's class and close, its model version's label
// thresholds and training range from the registry, and the bar spacing. A
// prediction resolves when the page also holds the next bar, as the page
// scores it; null when a version's labels are not fixed or quantile one-bar ones.
function recountAccuracy(seen) {
  const unknown = seen.times.filter((t) => !seen.byTime.has(t));
  if (!seen.times.length || unknown.length)
    return { ok: false, message: `accuracy of ${seen.symbol}: the page scored ${seen.times.length} bar times, ` +
      `${unknown.length} of them unknown to the server` };
  const serverTimes = [...seen.byTime.keys()].sort((a, b) => a - b);
  let step = Infinity;
  for (let i = 1; i < serverTimes.length; i += 1) step = Math.min(step, serverTimes[i] - serverTimes[i - 1]);
  const times = [...seen.times].sort((a, b) => a - b);
  let resolved = 0;
  let correct = 0;
  for (let i = 0; i < times.length; i += 1) {
    const p = seen.byTime.get(times[i]);
    const version = seen.versions.find((v) => v.version === p.version);
    const params = version && version.params;
    if (!params || !['fixed', 'quantile'].includes(params.mode) || params.horizon !== 1) return null;
    if (version.data_to && times[i] <= seconds(version.data_to)) continue;  // in-sample: the page does not score it
    if (i + 1 === times.length || Math.abs(times[i + 1] - times[i] - step) > 1e-6) continue;
    const ret = seen.byTime.get(times[i + 1]).close / p.close - 1;
    const actual = ret > params.up ? 'UP' : ret < params.down ? 'DOWN' : 'STABLE';
    resolved += 1;
    if (actual === p.class) correct += 1;
  }
  const expected = `resolved ${resolved}, correct ${correct}`;
  return { ok: seen.text.startsWith(`${expected} (`),
    message: `accuracy of ${seen.symbol} matches a recount over the ${seen.times.length} predictions it scored ` +
      `(${seen.text} vs ${expected})` };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  let mock = null;
  if (args.mock) mock = await require('./mock_server').start({ webRoot: args.mock });
  const url = mock ? mock.url : args.url;
  // --no-sandbox: Chromium's sandbox refuses to start as root, which tests in containers often are.
  const browser = await chromium.launch({ executablePath: args.chromium, args: ['--no-sandbox'] });
  const errors = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    if (args.expectError) await checkError(page, args);
    else await checkPage(page, args);
    await page.screenshot({ path: args.screenshot, fullPage: true });
    console.log(`screenshot: ${args.screenshot}`);
    check(errors.length === 0, `no uncaught script errors${errors.length ? ': ' + errors.join('; ') : ''}`);
  } catch (e) {
    if (errors.length) console.error(`uncaught script errors: ${errors.join('; ')}`);
    throw e;
  } finally {
    await browser.close();
    if (mock) mock.close();
  }
}

main().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
