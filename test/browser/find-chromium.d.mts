// Types for find-chromium.mjs (imported by ./chromium.ts and the bench's browser start-up part).
export interface Chromium {
  /** Where it came from: the npm package, a system install, or the KILN_CHROMIUM override. */
  source: "@sparticuz/chromium" | "system" | "KILN_CHROMIUM";
  path: string;
  /** Dotted version as `--version` prints it, e.g. "147.0.7727.0". */
  version: string;
}
export declare const SYSTEM_PATHS: string[];
export declare const INSTALL_HINT: string;
export declare const CHROMIUM_ARGS: string[];
export declare function parseVersion(text: string): string | undefined;
export declare function compareVersions(a: string, b: string): number;
export declare function chooseChromium(bundled: Chromium | { problem: string }, system: readonly Chromium[]): Chromium;
export declare function systemChromiums(paths?: readonly string[]): Chromium[];
export declare function bundledChromium(): Promise<Chromium | { problem: string }>;
export declare function findChromium(): Promise<Chromium>;
