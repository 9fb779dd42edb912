// Bundles src/ into dist/: concatenates the modules and writes index.html,
// stamped with the version the `shared` build generated.
import { mkdirSync, readdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";

const versionFile = join("..", "build", "shared", "version.txt");
const version = existsSync(versionFile) ? readFileSync(versionFile, "utf8").trim() : "dev";
const mode = process.env.NODE_ENV ?? "development";
const sources = readdirSync("src").filter((f) => f.endsWith(".js")).sort();
const bundle = sources.map((f) => `// ${f}\n${readFileSync(join("src", f), "utf8")}`).join("\n");

mkdirSync("dist", { recursive: true });
writeFileSync(join("dist", "app.js"), `// version ${version} (${mode})\n${bundle}`);
writeFileSync(
  join("dist", "index.html"),
  `<!doctype html>\n<title>Example ${version}</title>\n<script src="app.js"></script>\n`,
);
console.log(`built dist/ from ${sources.length} modules, version ${version}, ${mode}`);
