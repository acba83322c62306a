// Resolving the dashboard's predictions: the class each one turned out to be,
// judged as the model version's training labels were (registry params: see
// models::Labeler), or by direction alone when a version has no label params.
// A plain script: the page gets the global PricecastAccuracy, node tests
// require() it.
'use strict';

(function (root) {
  // The label rule from a version's params, or null when they are absent or
  // unusable. `trainedTo` (seconds): the end of the version's training data;
  // predictions of bars up to it are in-sample and not scored.
  function ruleFrom(params, trainedTo = -Infinity) {
    if (!params || !Number.isInteger(params.horizon) || params.horizon < 1) return null;
    if (!Number.isFinite(params.down) || !Number.isFinite(params.up)) return null;
    if (!['fixed', 'quantile', 'volatility'].includes(params.mode)) return null;
    if (params.mode === 'volatility' && !(Number.isInteger(params.vol_window) && params.vol_window > 1)) return null;
    return { horizon: params.horizon, mode: params.mode, down: params.down, up: params.up, volWindow: params.vol_window,
      trainedTo: Number.isFinite(trainedTo) ? trainedTo : -Infinity };
  }

  function describeRule(rule) {
    if (!rule) return 'direction accuracy: UP/DOWN predictions against the sign of the next close; STABLE not scored';
    const pct = (x) => `${(x * 100).toFixed(2)}%`;
    const when = `${rule.horizon} bar${rule.horizon > 1 ? 's' : ''} ahead`;
    const after = Number.isFinite(rule.trainedTo) && rule.trainedTo > 0
      ? `; bars after the training data (to ${new Date(rule.trainedTo * 1000).toISOString().replace('.000Z', 'Z')}) only` : '';
    if (rule.mode === 'volatility')
      return `realized class ${when}: return beyond ±${rule.up}× the ${rule.volWindow}-bar volatility, as in training${after}`;
    return `realized class ${when}: return below ${pct(rule.down)} DOWN, above ${pct(rule.up)} UP, as in training${after}`;
  }

  // The bar spacing of a symbol: its smallest gap between predictions. Bars
  // without a prediction (warm-up, gaps) make a longer gap and are not resolved.
  function barStep(preds) {
    let step = Infinity;
    for (let i = 1; i < preds.length; i += 1) step = Math.min(step, preds[i].time - preds[i - 1].time);
    return step;
  }

  function contiguous(preds, i, j, step) {
    return i >= 0 && j < preds.length && Math.abs(preds[j].time - preds[i].time - (j - i) * step) < 1e-6;
  }

  // Sample std of the one-bar returns of the `n` bars ending at i, scaled to
  // the horizon (a random walk's spread grows with its square root).
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
    if (rule && preds[i].time <= rule.trainedTo) return null;
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

  // Per prediction (sorted by `time` in seconds, each with close and class):
  // its realized class or null. `ruleOf(p)` gives the rule of p's model version.
  function realizedClasses(preds, ruleOf) {
    const step = barStep(preds);
    return preds.map((p, i) => realized(preds, i, ruleOf(p), step));
  }

  function score(preds, ruleOf) {
    const out = { resolved: 0, correct: 0 };
    realizedClasses(preds, ruleOf).forEach((actual, i) => {
      if (actual === null) return;
      out.resolved += 1;
      if (actual === preds[i].class) out.correct += 1;
    });
    return out;
  }

  const api = { ruleFrom, describeRule, realizedClasses, score };
  if (typeof module !== 'undefined' && module.exports) module.exports = api;
  else root.PricecastAccuracy = api;
})(this);
