// A stand-in for `pricecast serve` while the page is tested on its own: serves
// web/ and fakes the routes the dashboard reads (/v1/predictions,
// /v1/models/{name}) and /ws, with the JSON shapes of the real API. The market
// is a seeded random walk, so every run draws the same bars.
'use strict';

const fs = require('fs');
const http = require('http');
const path = require('path');
const { WebSocketServer } = require('ws');

const SYMBOLS = ['BTCUSD', 'ETHUSD', 'EURUSD'];
const MODEL = 'trend';
const VERSION = 3;
const BAR_SECONDS = 60;
const START = Date.parse('2026-01-05T00:00:00Z') / 1000;
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };

function lcg(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

class Market {
  constructor(seed) {
    this.random = lcg(seed);
    this.bar = 0;
    this.closes = Object.fromEntries(SYMBOLS.map((s, i) => [s, 100 * (i + 1)]));
    this.history = Object.fromEntries(SYMBOLS.map((s) => [s, []]));
  }

  // One bar close for every symbol, as the inference service publishes them.
  step() {
    const time = new Date((START + this.bar * BAR_SECONDS) * 1000).toISOString().replace('.000Z', 'Z');
    this.bar += 1;
    return SYMBOLS.map((symbol) => {
      this.closes[symbol] *= 1 + (this.random() - 0.5) * 0.04;
      const raw = [this.random(), this.random(), this.random()];
      const sum = raw[0] + raw[1] + raw[2];
      const probs = raw.map((x) => x / sum);
      const cls = probs.indexOf(Math.max(...probs));
      const p = {
        symbol, bar_time: time, feature_time: time, model: MODEL, version: VERSION, slot: 'champion',
        class: ['DOWN', 'STABLE', 'UP'][cls],
        probabilities: { down: probs[0], stable: probs[1], up: probs[2] },
        confidence: probs[cls], close: this.closes[symbol], latency_ms: 0.5 + this.random(),
        published_at: time,
      };
      this.history[symbol].push(p);
      return p;
    });
  }
}

function json(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

function modelDocument() {
  const params = { horizon: 1, mode: 'fixed', threshold: 0.01, vol_k: 0.5, vol_window: 20, quantile: 1 / 3,
    down: -0.01, up: 0.01 };
  return { model: { name: MODEL, latest_version: VERSION },
    versions: [{ model: MODEL, version: VERSION, kind: 'gbdt', stage: 'production', params }], history: [] };
}

function serveStatic(webRoot, pathname, res) {
  const file = path.normalize(path.join(webRoot, pathname === '/' ? 'index.html' : pathname));
  if (!file.startsWith(path.normalize(webRoot + path.sep))) return json(res, 404, { error: { code: 404, message: 'no file' } });
  fs.readFile(file, (err, bytes) => {
    if (err) return json(res, 404, { error: { code: 404, message: `no file ${pathname}` } });
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream' });
    res.end(bytes);
  });
}

function route(market, webRoot, req, res) {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname === '/v1/predictions') {
    const rows = market.history[url.searchParams.get('symbol')];
    if (!rows) return json(res, 404, { error: { code: 404, message: 'no predictions for symbol' } });
    const from = url.searchParams.has('from') ? Date.parse(url.searchParams.get('from')) : -Infinity;
    return json(res, 200, { symbol: url.searchParams.get('symbol'),
      predictions: rows.filter((p) => Date.parse(p.bar_time) >= from) });
  }
  if (url.pathname === `/v1/models/${MODEL}`) return json(res, 200, modelDocument());
  if (url.pathname.startsWith('/v1/')) return json(res, 404, { error: { code: 404, message: `no route ${url.pathname}` } });
  return serveStatic(webRoot, url.pathname, res);
}

// Starts on a free port with `historyBars` bars already published, then one bar
// every `intervalMs`. Each new client first gets one message that is not JSON
// and one prediction with an unknown class: the page must count and skip them.
// Every 3rd bar is published (REST has it) but not sent on the socket, as the
// real server coalesces a slow client: the page must refill it from REST.
function start({ webRoot, historyBars = 30, intervalMs = 250 }) {
  const market = new Market(7);
  for (let i = 0; i < historyBars; i += 1) market.step();
  const server = http.createServer((req, res) => route(market, webRoot, req, res));
  const wss = new WebSocketServer({ server, path: '/ws' });
  wss.on('connection', (ws) => {
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString());
      if (msg.op !== 'subscribe') return;
      ws.send(JSON.stringify({ type: 'subscribed', symbols: msg.symbols }));
      ws.send('{"type":"prediction", this is not json');
      ws.send(JSON.stringify({ ...market.history[SYMBOLS[0]][0], type: 'prediction', class: 'SIDEWAYS' }));
    });
  });
  const timer = setInterval(() => {
    const bar = market.step();
    if (market.bar % 3 === 0) return;
    for (const p of bar) {
      const text = JSON.stringify({ ...p, type: 'prediction' });
      for (const client of wss.clients) client.send(text);
    }
  }, intervalMs);
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({
      url: `http://127.0.0.1:${server.address().port}/`,
      close: () => {
        clearInterval(timer);
        for (const client of wss.clients) client.terminate();
        server.close();
      },
    }));
  });
}

module.exports = { start, MODEL, VERSION };
