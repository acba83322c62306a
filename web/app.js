// The pricecast dashboard: history from REST on first sight of a symbol, live
// predictions over /ws, one chart for the selected symbol. Runs as a plain
// script (no build step); lightweight-charts is loaded before it as the global
// LightweightCharts from vendor/lightweight-charts.js.
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
    symbols: new Map(),  // symbol -> { preds: [], loaded: bool }, preds sorted by time
    selected: query.get('symbol') || '',
    rules: new Map(),    // "model@version" -> resolution rule (see ruleFrom)
    rulesSeen: 0,        // bumped when rules arrive: cached scores are stale then
    models: new Map(),   // model name -> registry answer, or null while unknown/failed
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

  // ---- state -----------------------------------------------------------------------------

  function symbolState(symbol) {
    let s = state.symbols.get(symbol);
    if (!s) {
      s = { preds: [], loaded: false, scored: null };
      state.symbols.set(symbol, s);
      if (!state.selected) state.selected = symbol;
      loadHistory(symbol);
    }
    return s;
  }

  // Keeps preds sorted and unique by bar time: a repeated bar replaces the old
  // one (a reconnect refetches what the socket may have skipped).
  function insert(s, p) {
    s.scored = null;
    const preds = s.preds;
    let i = preds.length;
    while (i > 0 && preds[i - 1].time > p.time) i -= 1;
    if (i > 0 && preds[i - 1].time === p.time) preds[i - 1] = p;
    else preds.splice(i, 0, p);
  }

  function accept(raw) {
    const p = readPrediction(raw);
    if (!p) return scheduleRender();
    // One model's story per chart: a shadow challenger's predictions would mix two models' markers.
    if (p.slot && p.slot !== 'champion') return;
    insert(symbolState(p.symbol), p);
    loadModel(p.model);
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

  async function loadHistory(symbol) {
    const s = state.symbols.get(symbol);
    const from = s.preds.length ? `&from=${encodeURIComponent(s.preds[s.preds.length - 1].bar_time)}` : '';
    try {
      const body = await api(`/v1/predictions?symbol=${encodeURIComponent(symbol)}${from}`);
      (body.predictions || []).forEach(accept);
    } catch (e) {
      // 404: nothing published for it yet; the socket brings its first prediction.
      if (e.status !== 404) showError(`history of ${symbol}: ${e.message}`);
    }
    s.loaded = true;
    scheduleRender();
  }

  async function loadModel(name) {
    if (state.models.has(name)) return;
    state.models.set(name, null);
    try {
      const body = await api(`/v1/models/${encodeURIComponent(name)}`);
      state.models.set(name, body);
      for (const v of body.versions || []) state.rules.set(`${name}@${v.version}`, ruleFrom(v.params));
      state.rulesSeen += 1;
    } catch (e) {
      console.warn(`pricecast: model ${name}: ${e.message}; accuracy falls back to direction`);
    }
    scheduleRender();
  }

  // ---- resolution ------------------------------------------------------------------------

  // The label rule a model version was trained with (its registry params), so a
  // resolved prediction is scored exactly as its training labels were; without
  // params, the sign of the next close judges UP/DOWN predictions only.
  function ruleFrom(params) {
    if (!params || !Number.isInteger(params.horizon) || params.horizon < 1) return null;
    if (!Number.isFinite(params.down) || !Number.isFinite(params.up)) return null;
    if (!['fixed', 'quantile', 'volatility'].includes(params.mode)) return null;
    if (params.mode === 'volatility' && !(Number.isInteger(params.vol_window) && params.vol_window > 1)) return null;
    return { horizon: params.horizon, mode: params.mode, down: params.down, up: params.up, volWindow: params.vol_window };
  }

  function describeRule(rule) {
    if (!rule) return 'direction accuracy: UP/DOWN predictions against the sign of the next close; STABLE not scored';
    const pct = (x) => `${(x * 100).toFixed(2)}%`;
    const when = `${rule.horizon} bar${rule.horizon > 1 ? 's' : ''} ahead`;
    if (rule.mode === 'volatility')
      return `realized class ${when}: return beyond ±${rule.up}× the ${rule.volWindow}-bar volatility, as in training`;
    return `realized class ${when}: return below ${pct(rule.down)} DOWN, above ${pct(rule.up)} UP, as in training`;
  }

  // The bar spacing of a symbol: its smallest gap between predictions. Bars
  // without a prediction (warm-up, gaps) make a longer gap and are not resolved.
  function barStep(preds) {
    let step = Infinity;
    for (let i = 1; i < preds.length; i += 1) step = Math.min(step, preds[i].time - preds[i - 1].time);
    return step;
  }

  function contiguous(preds, i, j, step) {
    return j >= 0 && j < preds.length && Math.abs(preds[j].time - preds[i].time - (j - i) * step) < 1e-6;
  }

  // Sample std of the one-bar returns of the `n` bars ending at i, scaled to the horizon.
  function volatility(preds, i, n, horizon, step) {
    if (!contiguous(preds, i - n, i, step)) return NaN;
    const r = [];
    for (let k = i - n + 1; k <= i; k += 1) r.push(preds[k].close / preds[k - 1].close - 1);
    const mean = r.reduce((a, b) => a + b, 0) / n;
    const variance = r.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
    return Math.sqrt(variance) * Math.sqrt(horizon);
  }

  // 'UP' | 'DOWN' | 'STABLE' realized after preds[i], or null while unknown or unscored.
  function realized(preds, i, rule, step) {
    const j = i + (rule ? rule.horizon : 1);
    if (!contiguous(preds, i, j, step)) return null;
    const ret = preds[j].close / preds[i].close - 1;
    if (!rule) {
      if (preds[i].class === 'STABLE' || ret === 0) return null;
      return ret > 0 ? 'UP' : 'DOWN';
    }
    const scale = rule.mode === 'volatility' ? volatility(preds, i, rule.volWindow, rule.horizon, step) : 1;
    if (!Number.isFinite(scale)) return null;
    if (ret > rule.up * scale) return 'UP';
    if (ret < rule.down * scale) return 'DOWN';
    return 'STABLE';
  }

  // Cached per symbol: every frame shows all symbols' scores, most of them unchanged.
  function score(s) {
    if (!s.scored || s.scored.rulesSeen !== state.rulesSeen) s.scored = { ...scoreAll(s.preds), rulesSeen: state.rulesSeen };
    return s.scored;
  }

  function scoreAll(preds) {
    const step = barStep(preds);
    const out = { resolved: 0, correct: 0 };
    preds.forEach((p, i) => {
      const rule = state.rules.get(`${p.model}@${p.version}`) || null;
      const actual = realized(preds, i, rule, step);
      if (actual === null) return;
      out.resolved += 1;
      if (actual === p.class) out.correct += 1;
    });
    return out;
  }

  function scoreText(s) {
    if (!s.resolved) return 'none resolved yet';
    return `resolved ${s.resolved}, correct ${s.correct} (${((100 * s.correct) / s.resolved).toFixed(1)}%)`;
  }

  // ---- rendering -------------------------------------------------------------------------

  let chart = null;
  let line = null;

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
    if (s && s.preds.length) {
      renderChart(s);
      renderLatest(s.preds[s.preds.length - 1]);
      renderAccuracy(s);
    }
    renderTable();
    const ignored = $('ignored');
    ignored.dataset.count = String(state.ignored);
    ignored.textContent = state.ignored ? `ignored ${state.ignored} malformed message(s); see the console` : '';
  }

  function renderTabs() {
    const nav = $('symbols');
    const names = [...state.symbols.keys()].sort();
    if (nav.dataset.names !== names.join(',')) {
      nav.dataset.names = names.join(',');
      nav.replaceChildren(...names.map((name) => {
        const b = document.createElement('button');
        b.textContent = name;
        b.addEventListener('click', () => select(name));
        return b;
      }));
    }
    for (const b of nav.children) b.classList.toggle('selected', b.textContent === state.selected);
  }

  function select(symbol) {
    state.selected = symbol;
    const url = new URL(location.href);
    url.searchParams.set('symbol', symbol);
    history.replaceState(null, '', url);
    if (line) line.setData([]);
    scheduleRender();
  }

  function renderChart(s) {
    const preds = s.preds;
    $('chart-title').textContent = state.selected;
    if (!line) return;
    line.setData(preds.map((p) => ({ time: p.time, value: p.close })));
    line.setMarkers(preds.map((p) => ({ time: p.time, ...MARKER[p.class] })));
    // Fit once per symbol shown, when its history is in; afterwards the user's zoom and scroll are kept.
    if (s.loaded && state.fitted !== state.selected) {
      state.fitted = state.selected;
      chart.timeScale().fitContent();
    }
    const el = $('chart');
    el.dataset.points = String(preds.length);
    el.dataset.markers = String(preds.length);
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
    $('model-labels').textContent = describeRule(state.rules.get(`${p.model}@${p.version}`) || null);
  }

  function versionInfo(name, version) {
    const m = state.models.get(name);
    return m && (m.versions || []).find((v) => v.version === version);
  }

  function renderAccuracy(s) {
    const last = s.preds[s.preds.length - 1];
    const rule = state.rules.get(`${last.model}@${last.version}`) || null;
    $('accuracy-title').textContent = rule ? 'Accuracy of resolved predictions' : 'Direction accuracy';
    $('accuracy-rule').textContent = describeRule(rule);
    $('accuracy-symbol').textContent = scoreText(score(s));
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

  function connect() {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const key = apiKey ? `?api_key=${encodeURIComponent(apiKey)}` : '';
    const ws = new WebSocket(`${scheme}://${location.host}/ws${key}`);
    ws.onopen = () => {
      retryMs = 500;
      setStatus('open', 'live');
      ws.send(JSON.stringify({ op: 'subscribe', symbols: ['*'] }));
      // What was published while disconnected (or coalesced away) comes from REST.
      for (const symbol of state.symbols.keys()) loadHistory(symbol);
    };
    ws.onmessage = (event) => onMessage(event.data);
    ws.onclose = () => {
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
    if (msg && msg.type === 'prediction') return accept(msg);
    if (msg && msg.type === 'error') return showError(`server: ${msg.message}`);
  }

  // ---- start -----------------------------------------------------------------------------

  createChart();
  for (const symbol of (query.get('symbols') || '').split(',').filter(Boolean)) symbolState(symbol);
  connect();
})();
