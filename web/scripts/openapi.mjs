// Writes the server's OpenAPI document (from clipfeed.api.create_app(), with the Python that has
// clipfeed installed) and generates the app's API types from it, so a server change that breaks
// the app fails the build. CLIPFEED_PYTHON names that Python (the Makefile passes the venv's).
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const web = dirname(dirname(fileURLToPath(import.meta.url)));
const out = join(web, "src", "lib", "api");
const python = process.env.CLIPFEED_PYTHON || "python3";
const program = "import json, sys; from clipfeed.api import create_app; " +
  "json.dump(create_app().openapi(), sys.stdout, indent=1, sort_keys=True)";
const document = execFileSync(python, ["-c", program], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
mkdirSync(out, { recursive: true });
writeFileSync(join(out, "openapi.json"), document);
execFileSync(join(web, "node_modules", ".bin", "openapi-typescript"),
  [join(out, "openapi.json"), "-o", join(out, "schema.d.ts")], { stdio: "inherit" });
