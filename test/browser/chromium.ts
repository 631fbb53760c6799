/**
 * The Chromium the browser tests drive, launched in one place. Which browser, and where it comes
 * from (the devDependency @sparticuz/chromium, unpacked once per version; a newer system Chromium;
 * KILN_CHROMIUM), is decided by ./find-chromium.mjs, plain JavaScript shared with the bench's
 * browser start-up part (bench/browser-startup.mjs), and re-exported here. No usable browser is a
 * test failure whose message says what to install, never a skip.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium as playwright, type BrowserContext } from "playwright-core";
import { afterAll, beforeAll } from "vitest";
import { CHROMIUM_ARGS, findChromium, INSTALL_HINT, type Chromium } from "./find-chromium.mjs";

export { bundledChromium, CHROMIUM_ARGS, chooseChromium, compareVersions, findChromium, INSTALL_HINT, parseVersion, SYSTEM_PATHS, systemChromiums, type Chromium } from "./find-chromium.mjs";

export interface Launched {
  context: BrowserContext;
  chromium: Chromium;
  /** Closes the browser and removes its temporary profile. */
  close(): Promise<void>;
}

/** Launches the chosen browser with a fresh profile; a browser that will not start fails with the install hint. */
export async function launchChromium(viewport = { width: 1000, height: 760 }): Promise<Launched> {
  const chromium = await findChromium();
  const profile = mkdtempSync(join(tmpdir(), "kiln-chromium-profile-"));
  try {
    const context = await playwright.launchPersistentContext(profile, {
      executablePath: chromium.path, headless: true, args: CHROMIUM_ARGS, viewport, timeout: 60_000,
    });
    const close = async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    };
    return { context, chromium, close };
  } catch (e) {
    rmSync(profile, { recursive: true, force: true });
    throw new Error(`Chromium ${chromium.version} (${chromium.source}, ${chromium.path}) did not start: ${(e as Error).message}\n${INSTALL_HINT}`);
  }
}

/**
 * Launches the browser before a test file's tests and closes it after; call the returned function in
 * each test for the browser. When it could not be found or started, that call throws the reason and
 * the install hint, so every browser test fails with it (vitest would mark them skipped, not failed,
 * if the hook itself threw).
 */
export function useChromium(viewport?: { width: number; height: number }): () => Launched {
  let launched: Launched | Error | undefined;
  beforeAll(async () => {
    launched = await launchChromium(viewport).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
  });
  afterAll(async () => {
    if (launched && !(launched instanceof Error)) await launched.close();
  });
  return () => {
    if (launched instanceof Error) throw launched;
    if (!launched) throw new Error("useChromium: the browser is launched in beforeAll; call this inside a test");
    return launched;
  };
}
