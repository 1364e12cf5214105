// Loads a TUF repository from a directory with tuf-js's own client
// (Updater), as npm and sigstore-js do, and prints what it found as JSON.
// Driven by ../tufjs_test.go; reads only the files given, no network.
//
//   node load.mjs walk REPO_DIR TRUSTED_ROOT WORK_DIR TARGET...
//     refresh from TRUSTED_ROOT, then look up each TARGET:
//     {"targets": {"path": "sha256 hex" or null}}
//   node load.mjs parse-targets FILE
//     read one targets metadata file with @tufjs/models:
//     {"roles": n} or {"error": "..."}
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { Updater, BaseFetcher } from 'tuf-js';
import { Metadata, MetadataKind } from '@tufjs/models';

const require = createRequire(import.meta.url);
const { DownloadHTTPError } = require('tuf-js/dist/error.js');

const base = 'https://repo.invalid/metadata/';

// dirFetcher serves base + NAME from a directory; a missing file is an
// HTTP 404, which the updater reads as "no newer root".
class dirFetcher extends BaseFetcher {
  constructor(dir) {
    super();
    this.dir = dir;
  }
  async fetch(url) {
    if (!url.startsWith(base)) throw new DownloadHTTPError('outside the repository', 404);
    const file = path.join(this.dir, decodeURIComponent(url.slice(base.length)));
    if (!fs.existsSync(file)) throw new DownloadHTTPError('not found', 404);
    return fs.createReadStream(file);
  }
}

async function walk([repo, trustedRoot, work, ...targets]) {
  const metadataDir = path.join(work, 'metadata');
  fs.mkdirSync(metadataDir, { recursive: true });
  fs.copyFileSync(trustedRoot, path.join(metadataDir, 'root.json'));
  const updater = new Updater({
    metadataBaseUrl: base,
    targetBaseUrl: base + 'targets/',
    metadataDir,
    targetDir: path.join(work, 'targets'),
    fetcher: new dirFetcher(repo),
  });
  await updater.refresh();
  const found = {};
  for (const t of targets) {
    const info = await updater.getTargetInfo(t);
    found[t] = info ? info.hashes.sha256 : null;
  }
  return { targets: found };
}

function parseTargets([file]) {
  const md = Metadata.fromJSON(MetadataKind.Targets, JSON.parse(fs.readFileSync(file, 'utf8')));
  return { roles: Object.keys(md.signed.delegations?.roles ?? {}).length };
}

const [mode, ...args] = process.argv.slice(2);
try {
  const out = mode === 'walk' ? await walk(args) : mode === 'parse-targets' ? parseTargets(args) : null;
  if (out === null) throw new Error(`unknown mode ${mode}`);
  process.stdout.write(JSON.stringify(out) + '\n');
} catch (e) {
  process.stdout.write(JSON.stringify({ error: `${e.name}: ${e.message}` }) + '\n');
  process.exitCode = 1;
}
