// File names are bytes, not text: Linux allows any byte but '/' and NUL. A path whose bytes
// are not UTF-8 is kept as a Buffer, so it can still be opened, and shown with each such byte
// as \xNN, so a JSON line or a terminal stays valid UTF-8.
import { isUtf8 } from 'node:buffer';

/** A path as the file system takes it: text, or the raw bytes of a name that is not UTF-8. */
export type FsPath = string | Buffer;

/** The path as text where its bytes are UTF-8 (the common case), else the bytes themselves. */
export function fromBytes(bytes: Buffer): FsPath {
  return isUtf8(bytes) ? bytes.toString('utf8') : Buffer.from(bytes);
}

/** How output names a path: as is when it is text, else with each byte that is not UTF-8 as \xNN. */
export function printablePath(path: FsPath): string {
  if (typeof path === 'string') return path;
  if (isUtf8(path)) return path.toString('utf8');
  let out = '';
  let run = 0; // start of the current run of valid sequences
  let i = 0;
  while (i < path.length) {
    const n = sequenceLength(path, i);
    if (n > 0) {
      i += n;
      continue;
    }
    out += `${path.toString('utf8', run, i)}\\x${path[i]!.toString(16).padStart(2, '0')}`;
    i++;
    run = i;
  }
  return out + path.toString('utf8', run, i);
}

/** Bytes of the well-formed UTF-8 sequence at `i` (RFC 3629: no overlongs, no surrogates), or 0. */
function sequenceLength(bytes: Buffer, i: number): number {
  const b0 = bytes[i]!;
  if (b0 < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf) => {
    const b = bytes[i + k];
    return b !== undefined && b >= lo && b <= hi;
  };
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0;
  if (b0 >= 0xe0 && b0 <= 0xef) {
    const second = b0 === 0xe0 ? cont(1, 0xa0) : b0 === 0xed ? cont(1, 0x80, 0x9f) : cont(1);
    return second && cont(2) ? 3 : 0;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const second = b0 === 0xf0 ? cont(1, 0x90) : b0 === 0xf4 ? cont(1, 0x80, 0x8f) : cont(1);
    return second && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}
