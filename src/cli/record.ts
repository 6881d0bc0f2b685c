/**
 * `keysentry record -o FILE [--source auto|audit|connector|es|eslogger]`
 *
 * Writes the live stream (the start-up scan, then every exec, fork and exit) in keysentry's
 * recording format until SIGINT/SIGTERM; `keysentry replay FILE` then raises the alerts the
 * live agent raised. The recorder's own activity is left out, as the agent's is.
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { localAgentInfo, localHostInfo } from '../alerts/agent';
import { SOURCE_CHOICES, type SourceChoice } from '../config';
import { openLiveSource } from '../sources/live';
import { BackendError } from '../sources/native';
import { WithoutOwnActivity } from '../sources/own-activity';
import { RecordingWriter } from '../sources/recording';
import type { EventSource } from '../sources/types';
import { CliError } from './errors';

const USAGE = `usage: keysentry record -o FILE [--source ${SOURCE_CHOICES.join('|')}]`;

export async function run(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { output: { type: 'string', short: 'o' }, source: { type: 'string', default: 'auto' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n${USAGE}`);
  }
  if (values.help === true) throw new CliError(USAGE, 0);
  if (values.output === undefined) throw new CliError(`no output file (-o FILE)\n${USAGE}`);
  const choice = values.source as string;
  if (!(SOURCE_CHOICES as readonly string[]).includes(choice)) throw new CliError(`unknown --source '${choice}' (expected ${SOURCE_CHOICES.join(', ')})`);

  let out: fs.WriteStream;
  try {
    const fd = fs.openSync(values.output, 'w', 0o600);
    out = fs.createWriteStream('', { fd });
  } catch (err) {
    throw new CliError(`cannot write ${values.output}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, 1);
  }
  let live: EventSource;
  try {
    live = openLiveSource({ source: choice as SourceChoice });
  } catch (err) {
    out.destroy();
    if (err instanceof BackendError) throw new CliError(`cannot start the live source: ${err.message}`, 1);
    throw err;
  }
  const source = new WithoutOwnActivity(live);
  const writer = new RecordingWriter(out, {
    host: localHostInfo(),
    source: live.name,
    startedAt: new Date().toISOString(),
    writer: `keysentry ${localAgentInfo().version}`,
  });
  const stop = (): void => void source.stop();
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stderr.write(`keysentry record: recording ${live.name} to ${values.output} (pid ${process.pid}); Ctrl-C to stop\n`);
  let records = 0;
  let lostWritten = 0;
  try {
    for await (const batch of source.batches()) {
      for (const item of batch) {
        if (item.kind !== 'record') continue;
        records++;
        await writer.write(item.record);
      }
      // Losses go into the recording where they happened, so its reader can say so too.
      const lost = live.stats().lost;
      if (lost > lostWritten) {
        await writer.write({ kind: 'lost', timeNs: BigInt(Date.now()) * 1_000_000n, count: lost - lostWritten });
        lostWritten = lost;
      }
    }
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
    await writer.close();
  }
  process.stderr.write(`keysentry record: ${records} records written, ${lostWritten} lost\n`);
  return 0;
}
