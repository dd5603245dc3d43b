// Binary codes: the signs of the code projection packed into bytes (bit 0 is the most
// significant bit of the first byte) and written as hex, plus Hamming distance on them.

export function signsToHex(values: ArrayLike<number>, offset = 0, bits = values.length): string {
  const bytes = new Uint8Array(Math.ceil(bits / 8));
  for (let i = 0; i < bits; i++) {
    if ((values[offset + i] ?? 0) > 0) bytes[i >> 3]! |= 0x80 >> (i & 7);
  }
  return Buffer.from(bytes).toString('hex');
}

const POPCOUNT = Uint8Array.from({ length: 256 }, (_, v) => {
  let count = 0;
  for (let x = v; x; x >>= 1) count += x & 1;
  return count;
});

export function hammingDistance(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new Error(`codes differ in length: ${a.length} and ${b.length} bytes`);
  let distance = 0;
  for (let i = 0; i < a.length; i++) distance += POPCOUNT[a[i]! ^ b[i]!]!;
  return distance;
}

export function hexToBytes(hex: string): Uint8Array {
  if (!/^(?:[0-9a-f]{2})*$/i.test(hex)) throw new Error('a binary code must be an even-length hex string');
  return new Uint8Array(Buffer.from(hex, 'hex'));
}
