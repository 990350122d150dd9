/**
 * The progress line of `run`/`resume` on stderr: shown only to a person watching a terminal, and only for runs that
 * last: the first line after {@link PROGRESS_AFTER_MS}, then one every {@link PROGRESS_EVERY_MS}. Piped or
 * redirected stderr (scripts, CI, log collectors) gets none.
 */
export const PROGRESS_AFTER_MS = 1000;
/** @see PROGRESS_AFTER_MS */
export const PROGRESS_EVERY_MS = 1000;

/** `live`: one line rewritten in place and cleared at the end; `lines`: a line each time (a terminal that cannot erase one); `off`: nothing. */
export type ProgressMode = 'live' | 'lines' | 'off';

/** Whether and how to show progress, from what stderr is: a terminal (`isTTY`), and whether it can erase a line (`TERM`). */
export function progressMode(stderr: { readonly isTTY?: boolean }, env: { readonly TERM?: string | undefined }): ProgressMode {
  if (stderr.isTTY !== true) return 'off';
  return env.TERM === 'dumb' ? 'lines' : 'live';
}

export interface ProgressReporter {
  /** Shows this progress line (in place of the previous one when live). */
  line(text: string): void;
  /** Clears a live line, so the report starts on a clean line. */
  done(): void;
}

const ERASE_LINE = '\r\x1b[2K';

/** Writes progress lines for `mode` with `write` (raw stderr: no newline added). */
export function progressReporter(mode: Exclude<ProgressMode, 'off'>, write: (raw: string) => void): ProgressReporter {
  let shown = false;
  return {
    line(text) {
      shown = true;
      write(mode === 'live' ? `${ERASE_LINE}${text}` : `${text}\n`);
    },
    done() {
      if (mode === 'live' && shown) write(ERASE_LINE);
      shown = false;
    },
  };
}
