/** Recurrent layers (simple_rnn, lstm, gru): unrolled over time into matmul + elementwise steps. */
import type { Lowering } from "./layers.js";

export const RECURRENT: Record<string, Lowering> = {};
