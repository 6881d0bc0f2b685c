import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultAgentConfig, type LogConfig } from '../src/config';
import { ALERT_LOG_NAME, AGENT_LOG_NAME, createLogger, ECS_VERSION, REDACTED, RotatingFile } from '../src/logging';

function logConfig(directory: string, overrides: Partial<LogConfig> = {}): { log: LogConfig } {
  return { log: { ...defaultAgentConfig().log, directory, level: 'debug', ...overrides } };
}

function readLines(file: string): string[] {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter((line) => line !== '') : [];
}

/** Every line of a log and its rotated files, oldest first. */
function allLines(file: string, maxFiles: number): string[] {
  const lines: string[] = [];
  for (let index = maxFiles; index >= 1; index--) lines.push(...readLines(`${file}.${index}`));
  return lines.concat(readLines(file));
}

describe('daemon: logging', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keysentry-log-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes ecs-logging JSON lines with the level filter applied', async () => {
    const logger = createLogger(logConfig(dir, { level: 'info' }));
    logger.log.info('source started: %s', 'audit', { rules: 2 });
    logger.log.debug('not written at info');
    logger.log.warn('spool near its limit', { spool: { bytes: 10 } });
    await logger.close();
    const docs = readLines(path.join(dir, AGENT_LOG_NAME)).map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.equal(docs.length, 2);
    assert.equal(docs[0]['log.level'], 'info');
    assert.equal(docs[0].message, 'source started: audit');
    assert.equal(docs[0]['ecs.version'], ECS_VERSION);
    assert.equal(docs[0].rules, 2);
    assert.ok(!Number.isNaN(Date.parse(String(docs[0]['@timestamp']))));
    assert.deepEqual(docs[0].service, { name: 'keysentry', type: 'agent' });
    assert.deepEqual(docs[1].spool, { bytes: 10 });
  });

  it('writes alerts to their own file, one document a line, exactly as given', async () => {
    const logger = createLogger(logConfig(dir));
    const alert = { '@timestamp': '2026-01-01T00:00:00.000Z', event: { kind: 'alert' }, message: 'not a log field', process: { args: ['security', 'dump-keychain'] } };
    await logger.alerts.write(alert);
    logger.log.info('agent line');
    await logger.close();
    assert.deepEqual(readLines(path.join(dir, ALERT_LOG_NAME)).map((line) => JSON.parse(line)), [alert]);
    assert.equal(readLines(path.join(dir, AGENT_LOG_NAME)).length, 1);
  });

  it('rotates by size under a burst, keeping max_files, every line whole and none lost among those kept', async () => {
    const maxSizeBytes = 8 * 1024;
    const maxFiles = 3;
    const logger = createLogger(logConfig(dir, { maxSizeBytes, maxFiles, maxAgeMs: 0 }));
    const total = 5000;
    for (let i = 0; i < total; i++) logger.log.info('burst', { seq: i });
    await logger.close();
    const file = path.join(dir, AGENT_LOG_NAME);
    const names = fs.readdirSync(dir).filter((name) => name.startsWith(AGENT_LOG_NAME)).sort();
    assert.deepEqual(names, [AGENT_LOG_NAME, `${AGENT_LOG_NAME}.1`, `${AGENT_LOG_NAME}.2`, `${AGENT_LOG_NAME}.3`]);
    for (const name of names) assert.ok(fs.statSync(path.join(dir, name)).size <= maxSizeBytes, `${name} is over the size limit`);
    const seqs = allLines(file, maxFiles).map((line) => (JSON.parse(line) as { seq: number }).seq);
    assert.equal(seqs[seqs.length - 1], total - 1);
    seqs.forEach((seq, index) => assert.equal(seq, seqs[0] + index, 'kept lines are consecutive'));
    assert.ok(seqs.length > 3 * 40, 'the rotated files are full, not a line each');
  });

  it('rotates by age', () => {
    let now = 1_000_000;
    const file = path.join(dir, 'age.log');
    const output = new RotatingFile(file, { maxSizeBytes: 1 << 20, maxAgeMs: 60_000, maxFiles: 2 }, () => now);
    output.writeLine('first');
    now += 59_999;
    output.writeLine('second');
    now += 1;
    output.writeLine('third');
    now += 60_000;
    output.writeLine('fourth');
    now += 60_000;
    output.writeLine('fifth');
    output.close();
    assert.deepEqual(readLines(`${file}.2`), ['third']);
    assert.deepEqual(readLines(`${file}.1`), ['fourth']);
    assert.deepEqual(readLines(file), ['fifth']);
    assert.equal(fs.existsSync(`${file}.3`), false);
  });

  it('counts lines it cannot write instead of throwing', () => {
    const file = path.join(dir, 'gone', 'x.log');
    const output = new RotatingFile(file, { maxSizeBytes: 10, maxAgeMs: 0, maxFiles: 1 });
    output.writeLine('ok');
    fs.rmSync(path.join(dir, 'gone'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'gone'), 'a file where the directory was');
    output.writeLine('this one forces a rotation into a directory that is now a file');
    assert.equal(output.dropped, 1);
    assert.match(String(output.lastError), /x\.log/);
    output.close();
  });

  it('never writes a secret: token value anywhere, secret-named keys, Authorization headers, Bearer values', async () => {
    const token = 'ks_live_9f8e7d6c5b4a39281706';
    const logger = createLogger(logConfig(dir), { secrets: [token] });
    const lateSecret = 'late-secret-value-42';
    logger.redactor.addSecret(lateSecret);
    logger.log.info(`connecting with ${token}`);
    logger.log.info('connecting with %s', token);
    logger.log.warn('handshake', { headers: { Authorization: `Bearer ${token}`, 'X-Api-Key': 'k-123456' } });
    logger.log.warn('retry', { request: { password: 'hunter2hunter2', client_secret: 'cs-999999', auth_token: 'at-888888' } });
    logger.log.error('failed', { error: new Error(`401 for token ${token}`) });
    logger.log.info('raw header line: Authorization: Bearer abc.def.ghi, then more');
    logger.log.info('nested', { deep: { list: [{ note: `x${token}y` }, lateSecret] } });
    logger.log.info(`late ${lateSecret}`);
    await logger.alerts.write({ event: { kind: 'alert' }, process: { command_line: `curl -H "Authorization: Bearer ${token}" https://c` } });
    await logger.close();
    const everything = fs.readdirSync(dir).map((name) => fs.readFileSync(path.join(dir, name), 'utf8')).join('\n');
    for (const secret of [token, lateSecret, 'k-123456', 'hunter2hunter2', 'cs-999999', 'at-888888', 'abc.def.ghi']) {
      assert.ok(!everything.includes(secret), `${secret} leaked into the logs`);
    }
    assert.ok(everything.includes(REDACTED));
    assert.ok(everything.includes('connecting with [REDACTED]'));
    assert.ok(everything.includes('then more'), 'text after the redacted value is kept');
  });

  it('redacts a copy: the alert handed to the other sinks keeps its data', async () => {
    const token = 'ks_live_0123456789abcdef';
    const logger = createLogger(logConfig(dir), { secrets: [token] });
    const alert = { event: { kind: 'alert' }, process: { args: ['curl', '-H', `Authorization: Bearer ${token}`], name: 'curl' } };
    const before = JSON.stringify(alert);
    await logger.alerts.write(alert);
    await logger.close();
    assert.equal(JSON.stringify(alert), before);
    const [written] = readLines(path.join(dir, ALERT_LOG_NAME)).map((line) => JSON.parse(line) as typeof alert);
    assert.deepEqual(written.process.args, ['curl', '-H', `Authorization: Bearer ${REDACTED}`]);
    assert.equal(logger.redactor.redact(written.event), written.event, 'nothing to redact: the same object, no copy');
  });

  it('refuses to start logging into a directory it cannot create, naming the file', () => {
    const blocked = path.join(dir, 'not-a-dir');
    fs.writeFileSync(blocked, '');
    assert.throws(() => createLogger(logConfig(path.join(blocked, 'logs'))), new RegExp(`^ConfigError: log\\.directory: ${path.join(blocked, 'logs', AGENT_LOG_NAME)}: cannot open the log \\(ENOTDIR\\)$`));
  });

  it('counts an alert it cannot serialize instead of throwing into the pipeline', async () => {
    const logger = createLogger(logConfig(dir));
    const hostile = { event: { kind: 'alert' }, weird: { toJSON: () => { throw new Error('no'); } } };
    await logger.alerts.write(hostile as unknown as Record<string, never>);
    await logger.alerts.write({ event: { kind: 'alert' }, n: 1 });
    await logger.close();
    assert.deepEqual(logger.dropped(), { agentLog: 0, alertLog: 1 });
    assert.equal(readLines(path.join(dir, ALERT_LOG_NAME)).length, 1);
  });

  it('logs bigint fields (record timestamps) as strings rather than crashing', async () => {
    const logger = createLogger(logConfig(dir));
    logger.log.info('record', { timeNs: 1700000000000000000n });
    await logger.close();
    const [doc] = readLines(path.join(dir, AGENT_LOG_NAME)).map((line) => JSON.parse(line) as { timeNs: string });
    assert.equal(doc.timeNs, '1700000000000000000');
  });
});
