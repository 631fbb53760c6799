// npm runs `prepare` after `npm ci` / `npm install` in a clone: build dist/ so that bin/kiln.js and the
// examples work. It runs it again inside `npm pack` and `npm publish`, right after `prepack` has built
// a clean dist/ for the tarball; skip that second, identical build.
import { execSync } from "node:child_process";

if (!["pack", "publish"].includes(process.env.npm_command ?? "")) execSync("npm run build", { stdio: "inherit" });
