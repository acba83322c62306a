#!/usr/bin/env bash
# Regenerates afinn-165-financialmarketnews.tsv from the npm package (see PROVENANCE.md).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent afinn-165-financialmarketnews@3.0.0 >/dev/null && tar xzf afinn-165-financialmarketnews-3.0.0.tgz)
sha256sum "$tmp"/afinn-165-financialmarketnews-3.0.0.tgz
node -e '
const {afinn165FinancialMarketNews: a} = require(process.argv[1]);
const lines = Object.keys(a).sort().map(w => w + "\t" + a[w]);
process.stdout.write("# AFINN-165 financial market news, npm afinn-165-financialmarketnews@3.0.0 (MIT). word<TAB>valence -5..5\n" + lines.join("\n") + "\n");
' "$tmp/package/index.js" > "$here/afinn-165-financialmarketnews.tsv"
cp "$tmp/package/license" "$here/afinn-165-financialmarketnews.LICENSE"
