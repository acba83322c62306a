// The pricecast dashboard: history from REST on first sight of a symbol, live
// predictions and bars over /ws, one candlestick chart for the selected symbol
// with a marker per prediction (a line of predicted closes when the server
// serves no bars). Runs as a plain
// script (no build step) after vendor/lightweight-charts.js (the global
// LightweightCharts) and accuracy.js (PricecastAccuracy).
'use strict';

(function () {
  const CLASSES = ['DOWN', 'STABLE', 'UP'];
  const MARKER = {
    UP: { position: 'belowBar', shape: 'arrowUp', color: '#26a69a' },
    DOWN: { position: 'aboveBar', shape: 'arrowDown', color: '#ef5350' },
    STABLE: { position: 'inBar', shape: 'circle', color: '#9e9e9e' },
  };

  const query = new URLSearchParams(location.search);
  const apiKey = query.get('api_key') || '';

  const state = {
    symbols: new Map(),  // symbol -> { preds, bars (sorted by time), loaded, scored, ... } (symbolState)
    selected: query.get('symbol') || '',
    rules: new Map(),    // "model@version" -> label rule (accuracy.js), null: direction only
    rulesSeen: 0,        // bumped when rules arrive: cached scores are stale then
    models: new Map(),   // model name -> its latest registry answer
    asked: new Set(),    // "model@version" whose registry record was asked for
    ignored: 0,
    fitted: '',          // the symbol the chart's time scale was last fitted to
    renderQueued: false,
  };

  const $ = (id) => document.getElementById(id);

  // ---- input ---------------------------------------------------------------------------

  // ISO-8601 UTC to seconds; the API may send up to nanoseconds, Date.parse
  // keeps milliseconds at most, so the rest is cut before parsing.
  function parseTime(iso) {
    if (typeof iso !== 'string') return NaN;
    const ms = Date.parse(iso.replace(/(\.\d{3})\d+/, '$1'));
    return ms / 1000;
  }

  // A prediction from the API, checked field by field; null (and counted) if
  // a field the page draws from is missing or of the wrong type.
  function readPrediction(p) {
    const bad = (field) => {
      state.ignored += 1;
      console.warn(`pricecast: ignored a prediction with a bad '${field}'`, p);
      return null;
    };
    if (!p || typeof p !== 'object') return bad('message');
    if (typeof p.symbol !== 'string' || p.symbol === '') return bad('symbol');
    const time = parseTime(p.bar_time);
    if (!Number.isFinite(time)) return bad('bar_time');
    if (!CLASSES.includes(p.class)) return bad('class');
    const probs = p.probabilities;
    if (!probs || !['down', 'stable', 'up'].every((k) => Number.isFinite(probs[k]))) return bad('probabilities');
    if (!Number.isFinite(p.close) || p.close <= 0) return bad('close');
    if (typeof p.model !== 'string' || !Number.isInteger(p.version)) return bad('model');
    return { ...p, time };
  }

  // A price bar, checked as a prediction is. Its time is its close time, the
  // bar_time of the prediction made at that close, so markers sit on candles.
  function readBar(b) {
    const bad = (field) => {
      state.ignored += 1;
      console.warn(`pricecast: ignored a bar with a bad '${field}'`, b);
      return null;
    };
    if (!b || typeof b !== 'object') return bad('message');
    if (typeof b.symbol !== 'string' || b.symbol === '') return bad('symbol');
    const time = parseTime(b.close_time);
    if (!Number.isFinite(time)) return bad('close_time');
    for (const k of ['open', 'high', 'low', 'close'])
      if (!Number.isFinite(b[k]) || b[k] <= 0) return bad(k);
    if (b.high < Math.max(b.open, b.close) || b.low > Math.min(b.open, b.close)) return bad('high');
    return { ...b, time };
  }

  // ---- state -----------------------------------------------------------------------------

  function symbolState(symbol) {
    let s = state.symbols.get(symbol);
    if (!s) {
      s = { preds: [], loaded: false, scored: null, step: Infinity,
        bars: [], barsLoaded: false, barStep: Infinity };
      state.symbols.set(symbol, s);
      if (!state.selected) state.selected = symbol;
      loadHistory(symbol);
      loadBars(symbol);
    }
    return s;
  }

  // Keeps `list` sorted and unique by time: a repeated bar replaces the old
  // one (a reconnect refetches what the socket may have skipped). Returns the
  // smallest gap to a neighbour, or Infinity.
  function insertByTime(list, item) {
    let i = list.length;
    while (i > 0 && list[i - 1].time > item.time) i -= 1;
    if (i > 0 && list[i - 1].time === item.time) {
      list[i - 1] = item;
      return Infinity;
    }
    list.splice(i, 0, item);
    let gap = Infinity;
    if (i > 0) gap = item.time - list[i - 1].time;
    if (i + 1 < list.length) gap = Math.min(gap, list[i + 1].time - item.time);
    return gap;
  }

  // s.step, the smallest gap between predictions seen, is the symbol's bar spacing.
  function insert(s, p) {
    s.scored = null;
    s.step = Math.min(s.step, insertByTime(s.preds, p));
  }

  // A live message that may follow bars the page never got: the server
  // coalesces a slow client's queue to the newest prediction and the newest
  // bar per symbol, so the bars in between come from REST. That is a message
  // more than one bar after the last one held, and also the first ones after a
  // history that was empty (404) when asked: with nothing held, or one bar and
  // so no spacing yet, a skip cannot be told from the next bar. (While the
  // first history request is in flight, its answer is checked instead.)
  function skipsBars(list, step, loaded, time) {
    if (!loaded) return false;
    const last = list[list.length - 1];
    if (last === undefined || !Number.isFinite(step)) return true;
    return time - last.time > step + 1e-6;
  }

  function accept(raw, live = false) {
    const p = readPrediction(raw);
    if (!p) return scheduleRender();
    // The API sends served predictions only (never a shadow challenger's): in
    // split mode a symbol's served arm may be the challenger, one model per chart still.
    const s = symbolState(p.symbol);
    if (live && skipsBars(s.preds, s.step, s.loaded, p.time)) loadHistory(p.symbol);
    insert(s, p);
    loadModel(p.model, p.version);
    scheduleRender();
  }

  function acceptBar(raw, live = false) {
    const b = readBar(raw);
    if (!b) return scheduleRender();
    const s = symbolState(b.symbol);
    if (live && skipsBars(s.bars, s.barStep, s.barsLoaded, b.time)) loadBars(b.symbol);
    s.barStep = Math.min(s.barStep, insertByTime(s.bars, b));
    scheduleRender();
  }

  // ---- REST ------------------------------------------------------------------------------

  async function api(path) {
    const headers = apiKey ? { 'X-API-Key': apiKey } : {};
    const res = await fetch(path, { headers });
    const body = await res.json().catch(() => null);
    if (!res.ok) {
      const message = body && body.error && body.error.message;
      throw Object.assign(new Error(`${path}: ${res.status} ${message || res.statusText}`), { status: res.status });
    }
    return body;
  }

  // `fromBarTime`: '' for the whole history; by default from the newest held.
  async function loadHistory(symbol, fromBarTime) {
    const s = state.symbols.get(symbol);
    const start = fromBarTime ?? (s.preds.length ? s.preds[s.preds.length - 1].bar_time : '');
    const from = start ? `&from=${encodeURIComponent(start)}` : '';
    let newest = null;
    let none = false;
    try {
      const body = await api(`/v1/predictions?symbol=${encodeURIComponent(symbol)}${from}`);
      for (const p of body.predictions || []) accept(p);
      newest = (body.predictions || []).at(-1) || null;
    } catch (e) {
      // 404: nothing published for it yet; the socket brings its first prediction.
      none = e.status === 404;
      if (!none) showError(`history of ${symbol}: ${e.message}`);
    }
    s.loaded = true;
    scheduleRender();
    // Live predictions that came while this request was in flight may have
    // skipped bars unnoticed (the server coalesces a slow client): fetch the
    // bars after this answer's newest once more, or all of them when the
    // answer was that there were none.
    const held = s.preds[s.preds.length - 1];
    if (held && newest && held.bar_time !== newest.bar_time) await loadHistory(symbol, newest.bar_time);
    else if (held && none && fromBarTime === undefined) await loadHistory(symbol, '');
  }

  // The candles; the same refill as loadHistory. A server without /v1/bars
  // (404, as for a symbol without bars yet) leaves the line of predicted closes.
  async function loadBars(symbol, fromCloseTime) {
    const s = state.symbols.get(symbol);
    const start = fromCloseTime ?? (s.bars.length ? s.bars[s.bars.length - 1].close_time : '');
    const from = start ? `&from=${encodeURIComponent(start)}` : '';
    let newest = null;
    let none = false;
    try {
      const body = await api(`/v1/bars?symbol=${encodeURIComponent(symbol)}${from}`);
      for (const b of body.bars || []) acceptBar(b);
      newest = (body.bars || []).at(-1) || null;
    } catch (e) {
      none = e.status === 404;
      if (!none) showError(`bars of ${symbol}: ${e.message}`);
    }
    s.barsLoaded = true;
    scheduleRender();
    const held = s.bars[s.bars.length - 1];
    if (held && newest && held.close_time !== newest.close_time) await loadBars(symbol, newest.close_time);
    else if (held && none && fromCloseTime === undefined) await loadBars(symbol, '');
  }

  // Once per model version seen: a version promoted while the page is open
  // brings its own label rule and training range.
  async function loadModel(name, version) {
    if (state.asked.has(`${name}@${version}`)) return;
    state.asked.add(`${name}@${version}`);
    try {
      const body = await api(`/v1/models/${encodeURIComponent(name)}`);
      state.models.set(name, body);
      for (const v of body.versions || [])
        state.rules.set(`${name}@${v.version}`, PricecastAccuracy.ruleFrom(v.params, parseTime(v.data_to)));
      state.rulesSeen += 1;
    } catch (e) {
      console.warn(`pricecast: model ${name}: ${e.message}; accuracy falls back to direction`);
    }
    scheduleRender();
  }

  // ---- resolution ------------------------------------------------------------------------

  const ruleOf = (p) => state.rules.get(`${p.model}@${p.version}`) || null;

  // Cached per symbol: every frame shows all symbols' scores, most of them unchanged.
  function score(s) {
    if (!s.scored || s.scored.rulesSeen !== state.rulesSeen)
      s.scored = { ...PricecastAccuracy.score(s.preds, ruleOf), rulesSeen: state.rulesSeen };
    return s.scored;
  }

  function scoreText(s) {
    if (!s.resolved) return 'none resolved yet';
    return `resolved ${s.resolved}, correct ${s.correct} (${((100 * s.correct) / s.resolved).toFixed(1)}%)`;
  }

  // ---- rendering -------------------------------------------------------------------------

  let chart = null;
  let line = null;
  let candles = null;

  function createChart() {
    if (typeof LightweightCharts === 'undefined') {
      showError('vendor/lightweight-charts.js is missing: run ./run build to copy it into web/vendor/');
      return;
    }
    const el = $('chart');
    chart = LightweightCharts.createChart(el, {
      autoSize: true,
      layout: { background: { color: '#131722' }, textColor: '#d1d4dc' },
      grid: { vertLines: { color: '#1e2230' }, horzLines: { color: '#1e2230' } },
      timeScale: { timeVisible: true, secondsVisible: false },
    });
    line = chart.addLineSeries({ color: '#2962ff', lineWidth: 2 });
    candles = chart.addCandlestickSeries({
      upColor: '#26a69a', downColor: '#ef5350', borderVisible: false,
      wickUpColor: '#26a69a', wickDownColor: '#ef5350',
    });
  }

  function scheduleRender() {
    if (state.renderQueued) return;
    state.renderQueued = true;
    requestAnimationFrame(() => {
      state.renderQueued = false;
      render();
    });
  }

  function render() {
    renderTabs();
    const s = state.symbols.get(state.selected);
    if (s && (s.preds.length || s.bars.length)) renderChart(s);
    if (s && s.preds.length) {
      renderLatest(s.preds[s.preds.length - 1]);
      renderAccuracy(s);
    }
    renderTable();
    const ignored = $('ignored');
    ignored.dataset.count = String(state.ignored);
    ignored.textContent = state.ignored ? `ignored ${state.ignored} malformed message(s); see the console` : '';
  }

  // Tabs for a few symbols; past MAX_TABS a drop-down, which stays usable at 1,000.
  const MAX_TABS = 12;

  function symbolButton(name) {
    const b = document.createElement('button');
    b.textContent = name;
    b.addEventListener('click', () => select(name));
    return b;
  }

  function symbolDropDown(names) {
    const list = document.createElement('select');
    list.setAttribute('aria-label', 'symbol');
    list.replaceChildren(...names.map((name) => new Option(name, name)));
    list.addEventListener('change', () => select(list.value));
    return list;
  }

  function renderTabs() {
    const nav = $('symbols');
    const names = [...state.symbols.keys()].sort();
    if (nav.dataset.names !== names.join(',')) {
      nav.dataset.names = names.join(',');
      if (names.length > MAX_TABS) nav.replaceChildren(symbolDropDown(names));
      else nav.replaceChildren(...names.map(symbolButton));
    }
    for (const b of nav.querySelectorAll('button')) b.classList.toggle('selected', b.textContent === state.selected);
    const list = nav.querySelector('select');
    if (list) list.value = state.selected;
  }

  function select(symbol) {
    state.selected = symbol;
    const url = new URL(location.href);
    url.searchParams.set('symbol', symbol);
    history.replaceState(null, '', url);
    if (line) line.setData([]);
    if (candles) candles.setData([]);
    scheduleRender();
  }

  // Candles with a marker on each predicted bar's candle; a prediction whose
  // bar has not come yet gets its marker when the candle does. Without bars,
  // the line of predicted closes carries the markers.
  function renderChart(s) {
    const preds = s.preds;
    $('chart-title').textContent = state.selected;
    if (!line) return;
    const marker = (p) => ({ time: p.time, ...MARKER[p.class] });
    let placed = preds;
    if (s.bars.length) {
      const times = new Set(s.bars.map((b) => b.time));
      placed = preds.filter((p) => times.has(p.time));
      line.setData([]);
      candles.setData(s.bars.map((b) => ({ time: b.time, open: b.open, high: b.high, low: b.low, close: b.close })));
      candles.setMarkers(placed.map(marker));
    } else {
      candles.setData([]);
      line.setData(preds.map((p) => ({ time: p.time, value: p.close })));
      line.setMarkers(preds.map(marker));
    }
    // Fit once per symbol shown, when its history is in; afterwards the user's zoom and scroll are kept.
    if (s.loaded && s.barsLoaded && state.fitted !== state.selected) {
      state.fitted = state.selected;
      showRecent(s.bars.length || preds.length);
    }
    $('chart-subtitle').textContent = s.bars.length
      ? 'price bars, with the predicted class as a marker on each predicted bar'
      : 'close of each predicted bar, with the predicted class as a marker';
    const el = $('chart');
    el.dataset.points = String(s.bars.length || preds.length);
    el.dataset.candles = String(s.bars.length);
    el.dataset.markers = String(preds.length);
    el.dataset.unplaced = String(preds.length - placed.length);
  }

  // The newest bars at a readable width (a long history would squeeze every
  // candle into a pixel); scrolling left shows the rest.
  const SHOWN_BARS = 150;
  function showRecent(points) {
    if (points <= SHOWN_BARS) return chart.timeScale().fitContent();
    chart.timeScale().setVisibleLogicalRange({ from: points - SHOWN_BARS, to: points + 2 });
  }

  function pct(x) {
    return `${(x * 100).toFixed(1)}%`;
  }

  function renderLatest(p) {
    for (const k of ['down', 'stable', 'up']) {
      $(`prob-${k}`).textContent = pct(p.probabilities[k]);
      $(`prob-${k}-bar`).style.width = pct(p.probabilities[k]);
    }
    $('prob-time').textContent = `${p.symbol} at ${p.bar_time}`;
    const cls = $('pred-class');
    cls.textContent = p.class;
    cls.className = p.class.toLowerCase();
    $('pred-confidence').textContent = Number.isFinite(p.confidence) ? pct(p.confidence) : '–';
    $('pred-latency').textContent = Number.isFinite(p.latency_ms) ? `${p.latency_ms.toFixed(2)} ms` : '–';
    $('model-name').textContent = p.model;
    $('model-version').textContent = String(p.version);
    const version = versionInfo(p.model, p.version);
    // The registry's stage is "None" for a version never staged: say nothing then.
    const stage = version && version.stage !== 'None' ? ` (${version.stage})` : '';
    $('model-kind').textContent = version ? `${version.kind}${stage}` : '–';
    $('model-labels').textContent = PricecastAccuracy.describeRule(ruleOf(p));
  }

  function versionInfo(name, version) {
    const m = state.models.get(name);
    return m && (m.versions || []).find((v) => v.version === version);
  }

  function renderAccuracy(s) {
    const last = s.preds[s.preds.length - 1];
    const rule = ruleOf(last);
    $('accuracy-title').textContent = rule ? 'Accuracy of resolved predictions' : 'Direction accuracy';
    $('accuracy-rule').textContent = PricecastAccuracy.describeRule(rule);
    const scored = score(s);
    const shown = $('accuracy-symbol');
    shown.textContent = scoreText(scored);
    // The bar times (seconds) that score is over, for a test to recount exactly
    // those: which ones the page holds depends on what the socket brought.
    shown.dataset.times = scored.times ??= s.preds.map((p) => p.time).join(',');
    const all = { resolved: 0, correct: 0 };
    for (const other of state.symbols.values()) {
      const r = score(other);
      all.resolved += r.resolved;
      all.correct += r.correct;
    }
    $('accuracy-all').textContent = scoreText(all);
  }

  function renderTable() {
    const rows = [...state.symbols.entries()].filter(([, s]) => s.preds.length).sort(([a], [b]) => (a < b ? -1 : 1));
    $('latest').replaceChildren(...rows.map(([symbol, s]) => {
      const p = s.preds[s.preds.length - 1];
      const r = score(s);
      const tr = document.createElement('tr');
      const cells = [symbol, p.bar_time, p.close.toPrecision(6), p.class,
        Number.isFinite(p.confidence) ? pct(p.confidence) : '–', `${p.model} v${p.version}`,
        `${r.resolved} / ${r.correct}`];
      tr.replaceChildren(...cells.map((text, i) => {
        const td = document.createElement('td');
        td.textContent = text;
        if (i === 3) td.className = p.class.toLowerCase();
        return td;
      }));
      tr.addEventListener('click', () => select(symbol));
      return tr;
    }));
  }

  function showError(message) {
    const el = $('chart-error');
    el.hidden = false;
    el.textContent = message;
    console.error(`pricecast: ${message}`);
  }

  function setStatus(ws, text) {
    document.body.dataset.ws = ws;
    $('status').textContent = text;
  }

  // ---- WebSocket -------------------------------------------------------------------------

  let retryMs = 500;

  // A browser does not say why a WebSocket upgrade failed; a keyed REST route does.
  async function diagnose() {
    try {
      await api('/v1/models');
    } catch (e) {
      if (e.status === 401 && !apiKey) showError('the server needs an API key: open this page with ?api_key=KEY');
      else if (e.status === 401) showError('the API key in the page URL was not accepted');
      else if (e.status === 403) showError('the API key may not read predictions');
      else if (e.status === undefined) showError(`the server does not answer (${e.message})`);
    }
  }

  function connect() {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const key = apiKey ? `?api_key=${encodeURIComponent(apiKey)}` : '';
    const ws = new WebSocket(`${scheme}://${location.host}/ws${key}`);
    let opened = false;
    ws.onopen = () => {
      opened = true;
      $('chart-error').hidden = true;  // connection trouble is over; history errors come back on the refill
      retryMs = 500;
      setStatus('open', 'live');
      ws.send(JSON.stringify({ op: 'subscribe', symbols: ['*'] }));
      // What was published while disconnected (or coalesced away) comes from REST.
      for (const symbol of state.symbols.keys()) {
        loadHistory(symbol);
        loadBars(symbol);
      }
    };
    ws.onmessage = (event) => onMessage(event.data);
    ws.onclose = () => {
      if (!opened) diagnose();
      setStatus('closed', `disconnected; retrying in ${(retryMs / 1000).toFixed(1)} s`);
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 10000);
    };
  }

  function onMessage(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch (e) {
      state.ignored += 1;
      console.warn('pricecast: ignored a WebSocket message that is not JSON', text);
      return scheduleRender();
    }
    if (msg && msg.type === 'prediction') return accept(msg, true);
    if (msg && msg.type === 'bar') return acceptBar(msg, true);
    if (msg && msg.type === 'error') return showError(`server: ${msg.message}`);
  }

  // ---- start -----------------------------------------------------------------------------

  createChart();
  for (const symbol of (query.get('symbols') || '').split(',').filter(Boolean)) symbolState(symbol);
  connect();
})();
