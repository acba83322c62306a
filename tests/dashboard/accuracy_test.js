// web/accuracy.js on small series whose realized classes are worked out by hand
// in the comments. Run with `node accuracy_test.js` (node's built-in runner).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('path');
const { ruleFrom, realizedClasses, score } = require(path.join(__dirname, '../../web/accuracy.js'));

const BAR = 60;
// Predictions at consecutive bars unless `times` says otherwise.
function series(closes, classes, times = closes.map((_, i) => i * BAR)) {
  return closes.map((close, i) => ({ time: times[i], close, class: classes[i], model: 'm', version: 1 }));
}

const fixed = ruleFrom({ horizon: 1, mode: 'fixed', threshold: 0.01, down: -0.01, up: 0.01 });

test('fixed thresholds: beyond ±1% is UP/DOWN, the last bar is not resolved yet', () => {
  // 100 -> 102 is +2% (UP); 102 -> 101.5 is -0.49% (STABLE); 101.5 -> 100 is -1.48% (DOWN).
  const preds = series([100, 102, 101.5, 100], ['UP', 'DOWN', 'DOWN', 'UP']);
  assert.deepEqual(realizedClasses(preds, () => fixed), ['UP', 'STABLE', 'DOWN', null]);
  assert.deepEqual(score(preds, () => fixed), { resolved: 3, correct: 2 });
});

test('a bar without a prediction leaves its neighbour unresolved', () => {
  // No prediction at 120 s: the prediction at 60 s has no next bar to compare with.
  const preds = series([100, 102, 99], ['UP', 'UP', 'UP'], [0, 60, 180]);
  assert.deepEqual(realizedClasses(preds, () => fixed), ['UP', null, null]);
});

test('horizon 2 compares with the close two bars ahead', () => {
  // 100 -> 101.5 over two bars is +1.5% (UP) though each step is under 1%.
  const rule = ruleFrom({ horizon: 2, mode: 'fixed', threshold: 0.01, down: -0.01, up: 0.01 });
  const preds = series([100, 100.5, 101.5], ['UP', 'STABLE', 'STABLE']);
  assert.deepEqual(realizedClasses(preds, () => rule), ['UP', null, null]);
});

test('quantile thresholds may be asymmetric', () => {
  // down -0.2%, up +0.4%: +0.3% is STABLE, then -0.299% is DOWN.
  const rule = ruleFrom({ horizon: 1, mode: 'quantile', quantile: 1 / 3, down: -0.002, up: 0.004 });
  const preds = series([100, 100.3, 100], ['UP', 'DOWN', 'UP']);
  assert.deepEqual(realizedClasses(preds, () => rule), ['STABLE', 'DOWN', null]);
});

test('volatility thresholds scale with the sample std of the window', () => {
  // vol_window 2 at bar 2: returns +1% and -0.990%, sample std 1.4072%, so the
  // bounds are ±0.7036%. +0.5% is STABLE and +0.8% is UP; bars 0 and 1 lack a window.
  const rule = ruleFrom({ horizon: 1, mode: 'volatility', vol_k: 0.5, vol_window: 2, down: -0.5, up: 0.5 });
  assert.deepEqual(realizedClasses(series([100, 101, 100, 100.5], []), () => rule), [null, null, 'STABLE', null]);
  assert.deepEqual(realizedClasses(series([100, 101, 100, 100.8], []), () => rule), [null, null, 'UP', null]);
});

test('without label params only the direction of UP/DOWN predictions is scored', () => {
  // +1%: UP right; -0.99%: UP wrong; a flat close and a STABLE prediction are not scored.
  const preds = series([100, 101, 100, 100, 103], ['UP', 'UP', 'DOWN', 'STABLE', 'UP']);
  assert.deepEqual(realizedClasses(preds, () => null), ['UP', 'DOWN', null, null, null]);
  assert.deepEqual(score(preds, () => null), { resolved: 2, correct: 1 });
});

test('each prediction is judged by its own model version', () => {
  const preds = series([100, 100.5, 101], ['STABLE', 'UP', 'UP']);
  preds[1].version = 2;  // a version without label params: direction only
  const ruleOf = (p) => (p.version === 1 ? fixed : null);
  assert.deepEqual(realizedClasses(preds, ruleOf), ['STABLE', 'UP', null]);
});

test('bars up to the end of the training data are in-sample and not scored', () => {
  const rule = ruleFrom({ horizon: 1, mode: 'fixed', threshold: 0.01, down: -0.01, up: 0.01 }, 60);
  const preds = series([100, 102, 99, 101], ['UP', 'DOWN', 'UP', 'UP']);
  // Bars at 0 s and 60 s were trained on; 120 s -> 180 s is +2.02% (UP), 180 s is the last bar.
  assert.deepEqual(realizedClasses(preds, () => rule), [null, null, 'UP', null]);
  assert.deepEqual(score(preds, () => rule), { resolved: 1, correct: 1 });
});

test('unusable params give no rule (direction accuracy)', () => {
  const good = { horizon: 1, mode: 'fixed', threshold: 0.01, down: -0.01, up: 0.01 };
  for (const bad of [undefined, {}, { ...good, horizon: 0 }, { ...good, horizon: 1.5 }, { ...good, mode: 'weird' },
    { ...good, up: 'x' }, { ...good, down: null }, { ...good, mode: 'volatility', vol_window: 1 }])
    assert.equal(ruleFrom(bad), null, JSON.stringify(bad));
  assert.deepEqual(ruleFrom(good),
    { horizon: 1, mode: 'fixed', down: -0.01, up: 0.01, volWindow: undefined, trainedTo: -Infinity });
});
