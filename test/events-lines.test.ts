/** The bounded line splitter: the same lines whatever the chunking, long lines never assembled. */
import { strict as assert } from 'node:assert';
import { lineText, splitLines, type RawLine } from '../src/sources/lines';

const MAX = 64;

/** What a line should come out as, computed independently of the splitter. */
function expected(input: Buffer): string[] {
  const out: string[] = [];
  let start = 0;
  let n = 0;
  while (start < input.length) {
    let nl = input.indexOf(10, start);
    if (nl < 0) nl = input.length;
    n++;
    const bytes = input.subarray(start, nl);
    if (bytes.length > MAX) out.push(`${n}:too long ${bytes.length}`);
    else {
      const t = lineText({ bytes });
      out.push(`${n}:${'text' in t ? `text ${t.text}` : 'reason' in t ? `reason ${t.reason}` : 'blank'}`);
    }
    start = nl + 1;
  }
  return out;
}

async function split(chunks: Buffer[]): Promise<string[]> {
  const out: string[] = [];
  for await (const batch of splitLines(chunks, MAX)) {
    for (const raw of batch as RawLine[]) {
      if ('tooLongBytes' in raw) out.push(`${raw.lineNo}:too long ${raw.tooLongBytes}`);
      else {
        const t = lineText(raw);
        out.push(`${raw.lineNo}:${'text' in t ? `text ${t.text}` : 'reason' in t ? `reason ${t.reason}` : 'blank'}`);
      }
    }
  }
  return out;
}

describe('events: line splitting', () => {
  const input = Buffer.concat([
    Buffer.from('{"a":"café"}\r\n\n   \n{"emoji":"🔑 keychain"}\n'),
    Buffer.from([0x7b, 0x22, 0xe2, 0x28, 0xa1, 0x22, 0x7d, 0x0a]), // invalid UTF-8
    Buffer.from(`{"long":"${'x'.repeat(200)}"}\n`),
    Buffer.from('{"b":1}\n{"c":"ü"}'), // no final newline
  ]);

  it('gives the same lines, numbers and reasons for every way of cutting the input into chunks', async () => {
    const want = expected(input);
    assert.equal(want.length, 8);
    assert.deepEqual(await split([input]), want);
    for (let size = 1; size <= 70; size++) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < input.length; i += size) chunks.push(input.subarray(i, i + size));
      assert.deepEqual(await split(chunks), want, `chunks of ${size} bytes`);
    }
  });

  it('names the invalid byte and reports an over-long line by its size, keeping the lines after it', async () => {
    const got = await split([input]);
    assert.equal(got[4], '5:reason invalid UTF-8 at byte 3');
    assert.equal(got[5], '6:too long 211');
    assert.equal(got[7], '8:text {"c":"ü"}');
  });

  it('never holds more than the cap of a long line: a 10 MB line streamed in 64 KiB chunks', async () => {
    async function* stream(): AsyncGenerator<Buffer> {
      const block = Buffer.alloc(65536, 0x41);
      for (let i = 0; i < 160; i++) yield block;
      yield Buffer.from('\n{"after":true}\n');
    }
    const seen: RawLine[] = [];
    const before = process.memoryUsage().arrayBuffers;
    let heapPeak = 0;
    for await (const batch of splitLines(stream(), 1024 * 1024)) {
      seen.push(...batch);
      heapPeak = Math.max(heapPeak, process.memoryUsage().arrayBuffers - before);
    }
    assert.deepEqual(seen[0], { lineNo: 1, tooLongBytes: 160 * 65536 });
    assert.equal(seen.length, 2);
    assert.equal(lineText(seen[1] as { bytes: Buffer }).hasOwnProperty('text'), true);
    assert.ok(heapPeak < 8 * 1024 * 1024, `array buffers grew by ${heapPeak} bytes`);
  });
});
