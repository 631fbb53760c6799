// Types for digits.js (shared by the page, the worker and the browser test).
export interface DigitPart { pixels: Uint8Array; labels: Uint8Array; count: number }
export declare function decodeDigits(buffer: ArrayBuffer | Uint8Array): { train: DigitPart; test: DigitPart };
export declare function feedsOf(part: DigitPart, rows: number[]): { image: Float32Array; label: Int32Array };
export declare function toMnist(ink: ArrayLike<number>, width: number, height: number): Float32Array | undefined;
