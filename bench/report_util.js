'use strict';
// Number formatting and run statistics shared by bench/report.js and its section modules.

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const min = (xs) => Math.min(...xs);
const max = (xs) => Math.max(...xs);
const int = (x) => Math.round(x).toLocaleString('en-US');
const fix = (x, d = 2) => Number(x).toFixed(d);
// "median (min–max)" of one field over a peer's runs.
const spread = (runs, pick, fmt) => {
  const xs = runs.map(pick);
  return `${fmt(median(xs))} (${fmt(min(xs))}–${fmt(max(xs))})`;
};

module.exports = { median, min, max, int, fix, spread };
