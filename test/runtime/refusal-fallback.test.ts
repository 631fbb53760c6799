/**
 * The sentences of a refused load (load-errors.ts) are fetched only when a load is refused; when
 * they cannot be fetched (a page gone offline, a missing chunk), the load still rejects with a
 * KilnError naming where it was refused, the reason's number (runtime/reasons.ts) and its values.
 */
import { expect, test, vi } from "vitest";
import { loadModel } from "../../runtime/predict.js";
import { Reason } from "../../runtime/reasons.js";
import { rejects } from "../util/errors.js";

vi.mock("../../runtime/load-errors.js", () => {
  throw new Error("Failed to fetch dynamically imported module");
});

test("a refused load whose sentences cannot be fetched is a KilnError naming where and the reason", async () => {
  // A valid WebAssembly module without a kiln.manifest section.
  const e = await rejects(loadModel(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])));
  expect(e.diagnostics[0]).toMatchObject({ code: "manifest", path: "kiln.manifest" });
  expect(e.message).toContain(JSON.stringify([["kiln.manifest", [Reason.sections, 0]]]));
  expect(e.message).not.toContain("expected one");
});

test("an unreadable source likewise", async () => {
  const e = await rejects(loadModel(42 as never));
  expect(e.diagnostics[0]).toMatchObject({ code: "load", path: "" });
  expect(e.message).toContain(JSON.stringify([["", [Reason.source, "number"]]]));
});
