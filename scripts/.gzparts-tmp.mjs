import { build } from "esbuild";
import { gzipSync } from "node:zlib";
const r = await build({ entryPoints: { runtime: "dist/runtime/predict.js" }, bundle: true, splitting: true, platform: "browser", format: "esm", minify: true, target: "es2022", external: ["node:*"], write: false, metafile: true, outdir: "/tmp/size15/o", logLevel: "warning" });
const core = ["runtime.js"]; 
const outs = r.metafile.outputs; const key = (p) => p.split("/").pop();
const seen = new Set(["runtime.js"]);
for (const f of seen) { const o = Object.entries(outs).find(([k]) => key(k) === f)[1]; for (const i of o.imports) if (i.kind === "import-statement") seen.add(key(i.path)); }
const text = r.outputFiles.filter((f) => seen.has(key(f.path))).map((f) => f.text).join("");
const gz = (s) => gzipSync(Buffer.from(s), { level: 9 }).length;
console.log("total", text.length, gz(text));
// strings
const strs = text.match(/`(?:[^`\\]|\\.)*`|"(?:[^"\\\n]|\\.)*"/g);
const noStr = text.replace(/`(?:[^`\\]|\\.)*`|"(?:[^"\\\n]|\\.)*"/g, '""');
console.log("without strings", noStr.length, gz(noStr), "strings", strs.reduce((a,b)=>a+b.length,0));
const strsSorted = [...strs].sort((a,b)=>b.length-a.length).slice(0,40); for (const s of strsSorted) console.log(s.length, s.slice(0,150));
