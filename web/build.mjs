// Assembles web/dist: the compiled app (tsc wrote dist/app), the static files, and every module
// the page imports, copied from the TypeScript client's build and its npm dependencies, so the
// node serves everything itself (no CDN). Run by `npm run build` after tsc.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, 'dist');
const client = path.resolve(here, '../clients/ts');
const modules = path.join(client, 'node_modules');

function need(p, hint) {
  if (!fs.existsSync(p)) {
    console.error(`web build: ${p} is missing; ${hint}`);
    process.exit(1);
  }
}
need(path.join(client, 'dist/index.js'), 'build the client first: (cd clients/ts && npm ci && npm run build)');
need(path.join(modules, 'socket.io-client'), 'install the client\'s dependencies: (cd clients/ts && npm ci)');
need(path.join(dist, 'app/main.js'), 'run tsc first (npm run build does)');

// Copies the files of `from` whose names pass `keep` into dist/`to`, replacing what was there
// (except at dist/ itself, which holds tsc's output too).
function copyDir(from, to, keep = () => true) {
  const target = path.join(dist, to);
  if (path.resolve(target) !== path.resolve(dist)) fs.rmSync(target, { recursive: true, force: true });
  fs.mkdirSync(target, { recursive: true });
  for (const name of fs.readdirSync(from)) {
    const src = path.join(from, name);
    if (fs.statSync(src).isFile() && keep(name)) fs.copyFileSync(src, path.join(target, name));
  }
}

// The names of `entry` and every module it reaches through relative imports, within `dir`, plus
// the LICENSE: a name filter for copyDir.
function moduleClosure(dir, entry) {
  const names = new Set(['LICENSE']);
  const queue = [entry];
  while (queue.length) {
    const name = queue.pop();
    if (names.has(name)) continue;
    names.add(name);
    const source = fs.readFileSync(path.join(dir, name), 'utf8');
    for (const m of source.matchAll(/\bfrom\s*["']\.\/([\w.-]+\.js)["']/g)) queue.push(m[1]);
  }
  return (n) => names.has(n);
}

const jsOnly = (name) => name.endsWith('.js') || name.endsWith('.js.map') || name === 'LICENSE';
copyDir(path.join(here, 'static'), '.');
// Without source maps: they point at clients/ts/src, which the node does not serve.
copyDir(path.join(client, 'dist'), 'vendor/gsio-client', (n) => n.endsWith('.js'));
copyDir(path.join(modules, 'socket.io-client/dist'), 'vendor/socket.io-client', (n) => n === 'socket.io.esm.min.js');
fs.copyFileSync(path.join(modules, 'socket.io-client/LICENSE'), path.join(dist, 'vendor/socket.io-client/LICENSE'));
copyDir(path.join(modules, '@noble/ed25519'), 'vendor/noble-ed25519', jsOnly);
// Of @noble/hashes only sha2.js (imported by the client) and what it imports in turn.
copyDir(path.join(modules, '@noble/hashes'), 'vendor/noble-hashes', moduleClosure(path.join(modules, '@noble/hashes'), 'sha2.js'));

let files = 0;
let bytes = 0;
(function count(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) count(p);
    else { files++; bytes += fs.statSync(p).size; }
  }
})(dist);
console.log(`web build: ${path.relative(process.cwd(), dist) || '.'} holds ${files} files, ${(bytes / 1024).toFixed(0)} KiB`);
