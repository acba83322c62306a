// Opens a backtest report.html (file://) in headless Chromium (Debian's
// package, driven by playwright-core), with every network request refused so
// the page must be self-contained; checks the SVG charts are drawn and saves
// a full-page screenshot.
//
//   node backtest_report_test.js --report DIR/report.html [--screenshot backtest_report.png] [--chromium PATH]
//
// Exit 0 when every check passes; 1 with the failed check on stderr.
'use strict';

const path = require('path');
const { chromium } = require('playwright-core');

function parseArgs(argv) {
  const args = { report: '', screenshot: 'backtest_report.png',
    chromium: process.env.PRICECAST_CHROMIUM || '/usr/bin/chromium' };
  const names = { '--report': 'report', '--screenshot': 'screenshot', '--chromium': 'chromium' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = names[argv[i]];
    if (!key || i + 1 >= argv.length) throw new Error(`usage: unknown option or missing value: ${argv[i]}`);
    args[key] = argv[i + 1];
  }
  if (!args.report) throw new Error('usage: --report FILE is required');
  return args;
}

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
  console.log(`ok: ${message}`);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const browser = await chromium.launch({ executablePath: args.chromium, args: ['--no-sandbox'] });
  const errors = [];
  const refused = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith('file:')) return route.continue();
      refused.push(url);
      return route.abort();
    });
    await page.goto('file://' + path.resolve(args.report));
    const charts = await page.evaluate(() => {
      const box = (el) => el.getBoundingClientRect();
      const svgs = [...document.querySelectorAll('svg')];
      const equity = svgs.filter((s) => s.id.startsWith('equity-'));
      return {
        svgs: svgs.length,
        visible: svgs.filter((s) => box(s).width > 100 && box(s).height > 100).length,
        equityCurves: equity.map((s) => s.querySelectorAll('polyline').length),
        equityPoints: equity.length ? equity[0].querySelector('polyline').getAttribute('points').trim().split(' ').length : 0,
        rollingPoints: (() => {
          const p = document.querySelector('#rolling-accuracy polyline');
          return p ? p.getAttribute('points').trim().split(' ').length : 0;
        })(),
        calibrationPoints: document.querySelectorAll('#calibration circle').length,
        confusionCells: document.querySelectorAll('#confusion td').length,
      };
    });
    check(charts.svgs >= 3 && charts.visible === charts.svgs, `${charts.svgs} SVG charts, all drawn at a visible size`);
    check(charts.equityCurves.length >= 1 && charts.equityCurves.every((n) => n === 4),
      `equity charts with model, buy-and-hold, majority and persistence (${charts.equityCurves.join(', ')})`);
    check(charts.equityPoints > 10, `equity curve of ${charts.equityPoints} points`);
    check(charts.rollingPoints > 10, `rolling accuracy of ${charts.rollingPoints} points`);
    check(charts.calibrationPoints >= 1, `calibration: ${charts.calibrationPoints} bins drawn`);
    check(charts.confusionCells === 9, 'a 3x3 confusion matrix');
    await page.screenshot({ path: args.screenshot, fullPage: true });
    console.log(`screenshot: ${args.screenshot}`);
    check(refused.length === 0, `no network requests${refused.length ? ': ' + refused.join(', ') : ''}`);
    check(errors.length === 0, `no uncaught script errors${errors.length ? ': ' + errors.join('; ') : ''}`);
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
