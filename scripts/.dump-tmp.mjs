import { build } from "esbuild";
const r = await build({ entryPoints: { runtime: "dist/runtime/predict.js" }, bundle: true, splitting: true, platform: "browser", format: "esm", minify: true, target: "es2022", external: ["node:*"], write: true, metafile: true, outdir: "/tmp/size15/sz2", logLevel: "warning" });
for (const [k, v] of Object.entries(r.metafile.outputs)) console.log(k, v.bytes, Object.keys(v.inputs).join(","), v.imports.map(i=>i.kind[0]+":"+i.path).join(" "));
