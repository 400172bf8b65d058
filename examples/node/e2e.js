// End-to-end run of kinde_client.js against a running gateway, with real faults injected into
// its Kinde emulator through the emulator's control API.
//
// Usage: node e2e.js ADDR API_KEY EMULATOR_BASE_URL   (e2e.sh installs node_modules first)
//
// Scenarios, each checked on the client's output and on the emulator's request log and state:
//   demo         create an organization and a user, stream the members: three lines, each with a
//                request id that the emulator saw as `x-request-id`;
//   429 burst    every createUser answered 429: the client waits the RetryInfo delay; the burst
//                ends; the client's retry creates the user once;
//   5xx on read  the members' list answers 5xx: the gateway says UNAVAILABLE, the client backs off
//                and retries; the fault ends; the stream returns both members;
//   lost answer  createUser is processed and its connection dropped: the gateway says UNKNOWN /
//                OUTCOME_UNKNOWN; the client looks the user up instead of creating it again, and
//                the emulator holds exactly one user with that email;
//   lost create  createUser's connection is dropped before it is processed, twice: each time
//                the client looks up, finds nobody, and creates once more only the first time,
//                then fails in one line; the emulator saw two creates and holds no such user.
// Faults are cleared and every client process is stopped at the end, whatever happens. Prints one line per scenario, or one line
// saying what failed; exit status 1 on failure. The faults apply to every caller of that
// emulator: run this against a gateway that no other test uses at the same time.

'use strict';

const path = require('node:path');
const crypto = require('node:crypto');
const { spawn } = require('node:child_process');
const readline = require('node:readline');

const CLIENT = path.join(__dirname, 'kinde_client.js');
const NAME = 'node client e2e';
const RID = '\\(request id ([0-9A-Za-z._-]+)\\)';
// A line saying the client will try again (RESOURCE_EXHAUSTED or UNAVAILABLE).
const RETRY_LINE = /^[a-z ]+: [A-Z_]+( [A-Z_]+)?, (waiting|retrying in) [0-9.]+s /;
// Bounds: generous, so a slow machine does not fail the run; they only stop a hang.
const CLIENT_TIMEOUT_MS = 90_000;
const LINE_TIMEOUT_MS = 60_000;

/** A scenario failed; the message is the one line to print. */
class Failed extends Error {}

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The emulator's control API (`/_emulator/...`). */
class Emulator {
  constructor(baseUrl) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  async call(method, path, body) {
    let response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (error) {
      throw new Failed(`cannot reach the emulator at ${this.baseUrl}: ${error.cause?.message || error.message}`);
    }
    if (!response.ok) throw new Failed(`${method} ${path} answered ${response.status}`);
    return response.json();
  }

  faults(faults) {
    return this.call('PUT', '/_emulator/faults', faults);
  }

  clearFaults() {
    return this.call('PUT', '/_emulator/faults', {});
  }

  async usersWithEmail(email) {
    const state = await this.call('GET', '/_emulator/state');
    return state.users.filter((user) => (user.email || '').toLowerCase() === email.toLowerCase());
  }

  async requestsWithId(requestId) {
    const requests = await this.call('GET', '/_emulator/requests');
    return requests.filter((request) => (request.headers || {})['x-request-id'] === requestId);
  }
}

/** A client process whose output lines are read as they come. */
class RunningClient {
  constructor(base, args) {
    this.process = spawn(process.execPath, [...base, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.lines = [];
    this.pending = [];
    this.waiters = [];
    this.ended = false;
    const onLine = (line) => {
      this.pending.push(line);
      this.wake();
    };
    readline.createInterface({ input: this.process.stdout }).on('line', onLine);
    readline.createInterface({ input: this.process.stderr }).on('line', onLine);
    this.exit = new Promise((resolve) => {
      this.process.on('close', (code) => {
        this.ended = true;
        this.wake();
        resolve(code);
      });
    });
  }

  wake() {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  output() {
    return [...this.lines, ...this.pending].join(' | ') || '(no output)';
  }

  /** The first new line matching `pattern`; fails if the client ends or time runs out. */
  async waitFor(pattern, timeoutMs = LINE_TIMEOUT_MS) {
    const deadline = Date.now() + timeoutMs;
    const regex = new RegExp(pattern);
    for (;;) {
      while (this.pending.length > 0) {
        const line = this.pending.shift();
        this.lines.push(line);
        const match = regex.exec(line);
        if (match) return match;
      }
      if (this.ended) throw new Failed(`the client ended before printing ${pattern}: ${this.output()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Failed(`no line matching ${pattern} within ${timeoutMs / 1000}s: ${this.output()}`);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Kills the process if it still runs (a scenario failed while waiting on it). */
  async stop() {
    if (this.process.exitCode === null && this.process.signalCode === null) {
      this.process.kill('SIGKILL');
    }
    await this.exit;
  }

  /** Waits for the end; resolves to the exit status and every line. */
  async finish(timeoutMs = CLIENT_TIMEOUT_MS) {
    let timer;
    const timeout = new Promise((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const code = await Promise.race([this.exit, timeout]);
    clearTimeout(timer);
    if (code === 'timeout') {
      this.process.kill('SIGKILL');
      throw new Failed(`the client did not finish within ${timeoutMs / 1000}s: ${this.output()}`);
    }
    this.lines.push(...this.pending.splice(0));
    return { code, lines: this.lines };
  }
}

/** Matches the lines that are not retry notices, in order, against `patterns`. */
function expectLines(lines, patterns) {
  const essential = lines.filter((line) => !RETRY_LINE.test(line));
  if (essential.length !== patterns.length) {
    throw new Failed(`expected ${patterns.length} result lines, got ${essential.length}: ${lines.join(' | ')}`);
  }
  return essential.map((line, i) => {
    const match = new RegExp(`^${patterns[i]}$`).exec(line);
    if (!match) throw new Failed(`line ${JSON.stringify(line)} does not match ${patterns[i]}`);
    return match;
  });
}

async function succeed(client) {
  const { code, lines } = await client.finish();
  if (code !== 0) throw new Failed(`the client exited with ${code}: ${lines[lines.length - 1] || '(no output)'}`);
  return lines;
}

/**
 * Waits for a client that must fail; resolves to its lines with the failure line, which comes
 * on stderr and so may overtake the last lines of stdout, moved to the end.
 */
async function failOnce(client) {
  const { code, lines } = await client.finish();
  if (code !== 1) throw new Failed(`the client exited with ${code}, not 1: ${client.output()}`);
  const failure = lines.filter((line) => / failed: /.test(line));
  return [...lines.filter((line) => !/ failed: /.test(line)), ...failure];
}

/**
 * Checks that the retry reached the emulator at least the announced wait after the failed
 * attempt (a lower bound only: a wait is never shorter, however slow the machine).
 */
function assertWaited(failed, retried, seconds) {
  if (retried.length === 0) throw new Failed('the retried call never reached the emulator');
  const gapMs = retried[0].timestamp_ms - failed[failed.length - 1].timestamp_ms;
  if (gapMs < 0.9 * Number(seconds) * 1000) {
    throw new Failed(`the client announced a ${seconds}s wait but retried after ${gapMs} ms`);
  }
}

async function scenarios(addr, key, emulator, clients) {
  const base = [CLIENT, '--addr', addr, '--key', key];
  const tag = crypto.randomBytes(4).toString('hex');
  const email = (n) => `node-e2e-${tag}-${n}@example.com`;
  const start = (...args) => {
    const client = new RunningClient(base, args);
    clients.push(client);
    return client;
  };
  // Creates user `n` while `fault` targets createUser; the fault is cleared once the client has
  // ended. `finish` waits for the end and checks the exit status.
  let org;
  const createUnder = async (fault, finish, n) => {
    await emulator.faults({ target: { operation: 'createUser' }, ...fault });
    const client = start('create-user', '--org', org, '--email', email(n));
    try {
      return await finish(client);
    } finally {
      await emulator.clearFaults();
    }
  };

  await emulator.clearFaults();

  // Demo: the whole walk-through, no fault.
  let lines = await succeed(start('demo', '--email', email(1)));
  const [orgLine, userLine, streamLine] = expectLines(lines, [
    `create organization: created "[^"]+" as (org_\\w+) ${RID}`,
    `create user: created ${escape(email(1))} as (kp_\\w+) in (org_\\w+) ${RID}`,
    `stream organization users: 1 member\\(s\\) of (org_\\w+): ${escape(email(1))} ${RID}`,
  ]);
  org = orgLine[1];
  if (userLine[2] !== org || streamLine[1] !== org) {
    throw new Failed(`the steps used different organizations: ${lines.join(' | ')}`);
  }
  if (new Set([orgLine[2], userLine[3], streamLine[2]]).size !== 3) {
    throw new Failed('the three steps did not have three request ids');
  }
  const seen = await emulator.requestsWithId(userLine[3]);
  if (JSON.stringify(seen.map((r) => [r.method, r.path, r.status])) !== JSON.stringify([['POST', '/api/v1/user', 200]])) {
    throw new Failed(`the emulator did not see the create with its request id: ${JSON.stringify(seen)}`);
  }
  console.log(`${NAME}: demo ok (${org}, 3 steps, request ids seen by the emulator)`);

  // A 429 burst on createUser: wait the RetryInfo delay, then succeed once the burst ends.
  await emulator.faults({ target: { operation: 'createUser' }, rate_limited_ratio: 1.0 });
  let client = start('create-user', '--org', org, '--email', email(2));
  const waited = await client.waitFor(
    `^create user: RESOURCE_EXHAUSTED RATE_LIMITED, waiting ([0-9.]+)s as RetryInfo asks \\(attempt \\d+ of \\d+\\) ${RID}$`,
  );
  await emulator.clearFaults();
  const throttled = await emulator.requestsWithId(waited[2]);
  if (throttled.length === 0 || throttled.some((r) => r.status !== 429)) {
    throw new Failed(`the throttled create did not meet 429s at the emulator: ${JSON.stringify(throttled)}`);
  }
  const [created] = expectLines(await succeed(client), [
    `create user: created ${escape(email(2))} as (kp_\\w+) in ${org} ${RID}`,
  ]);
  // The emulator's 429 says `RateLimit-Reset: 1`; the gateway passes it on as RetryInfo.
  if (Number(waited[1]) < 0.5) throw new Failed(`the client waited ${waited[1]}s, not the RetryInfo delay`);
  assertWaited(throttled, await emulator.requestsWithId(created[2]), waited[1]);
  let found = await emulator.usersWithEmail(email(2));
  if (found.length !== 1 || found[0].id !== created[1]) {
    throw new Failed(`after the 429 burst the emulator holds ${found.length} users for ${email(2)}`);
  }
  console.log(
    `${NAME}: 429 burst ok (waited ${waited[1]}s as RetryInfo asked, ${throttled.length} x 429, then created once)`,
  );

  // 5xx on an idempotent read: UNAVAILABLE, retried with backoff until the fault ends.
  await emulator.faults({ target: { operation: 'GetOrganizationUsers' }, error_ratio: 1.0 });
  client = start('stream-users', '--org', org);
  const backoff = await client.waitFor(
    `^stream organization users: UNAVAILABLE KINDE_UNAVAILABLE, retrying in ([0-9.]+)s \\(backoff\\) \\(attempt \\d+ of \\d+\\) ${RID}$`,
  );
  await emulator.clearFaults();
  const failing = await emulator.requestsWithId(backoff[2]);
  if (failing.length === 0 || failing.some((r) => r.status < 500)) {
    throw new Failed(`the failed read did not meet 5xx at the emulator: ${JSON.stringify(failing)}`);
  }
  const [members] = expectLines(await succeed(client), [
    `stream organization users: 2 member\\(s\\) of ${org}: ([^ ]+), ([^ ]+) ${RID}`,
  ]);
  assertWaited(failing, await emulator.requestsWithId(members[3]), backoff[1]);
  if (![members[1], members[2]].sort().every((e, i) => e === [email(1), email(2)].sort()[i])) {
    throw new Failed(`the stream returned ${JSON.stringify(members[0])}, not the two users`);
  }
  console.log(
    `${NAME}: 5xx on a read ok (UNAVAILABLE after ${failing.length} x 5xx at the emulator, retried in ${backoff[1]}s, then 2 members)`,
  );

  // A create whose answer is lost: UNKNOWN / OUTCOME_UNKNOWN, looked up, never repeated.
  lines = await createUnder({ close_after_ratio: 1.0 }, succeed, 3);
  const [unknown, lookedUp, resolved] = expectLines(lines, [
    `create user: UNKNOWN OUTCOME_UNKNOWN, the user may exist: looking it up by email instead of creating it again ${RID}`,
    `look up user: 1 user\\(s\\) with email ${escape(email(3))}: (kp_\\w+) ${RID}`,
    `create user: the create had happened: ${escape(email(3))} is (kp_\\w+) ${RID}`,
  ]);
  const userId = lookedUp[1];
  if (resolved[1] !== userId || resolved[2] !== unknown[1]) {
    throw new Failed(`the lookup and the outcome disagree: ${lines.join(' | ')}`);
  }
  const creates = await emulator.requestsWithId(unknown[1]);
  if (
    JSON.stringify(creates.map((r) => [r.method, r.path, r.connection_closed])) !==
    JSON.stringify([['POST', '/api/v1/user', true]])
  ) {
    throw new Failed(`the create whose answer was lost reached the emulator as ${JSON.stringify(creates)}, not once`);
  }
  found = await emulator.usersWithEmail(email(3));
  if (found.length !== 1 || found[0].id !== userId) {
    throw new Failed(`the emulator holds ${found.length} users with ${email(3)}, not exactly one`);
  }
  console.log(`${NAME}: lost answer ok (OUTCOME_UNKNOWN, found ${userId} by email, exactly one user at the emulator)`);

  // A create that never happens: looked up, created once more, then given up on.
  lines = await createUnder({ close_before_ratio: 1.0 }, failOnce, 4);
  const unknownLine = `create user: UNKNOWN OUTCOME_UNKNOWN, the user may exist: looking it up by email instead of creating it again ${RID}`;
  const nobody = `look up user: 0 user\\(s\\) with email ${escape(email(4))}: none ${RID}`;
  const [first, , again, second, , gaveUp] = expectLines(lines, [
    unknownLine,
    nobody,
    `create user: the create had not happened: creating the user once more ${RID}`,
    unknownLine,
    nobody,
    `create user: failed: the create had not happened, and the outcome stayed unknown 2 times for ${escape(email(4))} ${RID}`,
  ]);
  if (again[1] !== first[1] || gaveUp[1] !== second[1]) {
    throw new Failed(`the outcome lines name the wrong requests: ${lines.join(' | ')}`);
  }
  for (const create of [first, second]) {
    const seen = await emulator.requestsWithId(create[1]);
    if (JSON.stringify(seen.map((r) => [r.method, r.path])) !== JSON.stringify([['POST', '/api/v1/user']])) {
      throw new Failed(`create ${create[1]} reached the emulator as ${JSON.stringify(seen)}, not once`);
    }
  }
  if ((await emulator.usersWithEmail(email(4))).length !== 0) {
    throw new Failed(`the emulator holds a user with ${email(4)} though no create happened`);
  }
  console.log(
    `${NAME}: lost create ok (OUTCOME_UNKNOWN twice, nobody found, created once more as announced, then failed in one line)`,
  );
}

async function main(argv) {
  if (argv.length !== 3) {
    console.error('usage: e2e.js ADDR API_KEY EMULATOR_BASE_URL');
    return 2;
  }
  const [addr, key, emulatorUrl] = argv;
  const emulator = new Emulator(emulatorUrl);
  const clients = [];
  try {
    await scenarios(addr, key, emulator, clients);
  } catch (error) {
    console.error(`${NAME}: FAILED: ${error instanceof Failed ? error.message : `unexpected error: ${error.stack}`}`);
    return 1;
  } finally {
    await Promise.all(clients.map((client) => client.stop()));
    await emulator.clearFaults().catch(() => {});
  }
  console.log(`${NAME}: all 5 scenarios passed`);
  return 0;
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
