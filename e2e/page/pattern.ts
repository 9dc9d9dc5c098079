/**
 * Test data both sides can regenerate without shipping it through the test
 * runner: byte i is (i * 31 + seed) mod 251, which repeats only every 251
 * bytes, so a shifted, truncated or reordered chunk changes the checksum.
 */
export function pattern(size: number, seed: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 1) bytes[i] = (i * 31 + seed) % 251;
  return bytes;
}
