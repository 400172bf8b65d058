#!/usr/bin/env node
// Call kinde-gateway from Node.js: create an organization and a user, stream its members.
//
// Usage: node kinde_client.js [--addr HOST:PORT] [--key API_KEY] [COMMAND ...]
//
// Commands (default `demo`):
//   demo [--email EMAIL]        create an organization, a user in it, then stream its members
//   create-org NAME             create an organization and print its code
//   create-user --org CODE --email EMAIL [--given NAME] [--family NAME]
//   find-user --email EMAIL     look users up by email
//   stream-users --org CODE     stream the members of an organization
//
// The address and key default to GATEWAY_ADDRESS and GATEWAY_API_KEY, else to what
// `kinde-gateway --emulator` uses (127.0.0.1:50051 and its loopback-only demo key).
//
// Each step prints one line ending with the gateway's request id (`x-request-id`). Errors are
// handled as the gateway's status details (`grpc-status-details-bin`) ask:
//   RESOURCE_EXHAUSTED with RetryInfo  wait the RetryInfo delay, then try again;
//   UNAVAILABLE                        nothing reached Kinde (or the call is a read): retry with
//                                      exponential backoff and jitter, at least the RetryInfo delay;
//   UNKNOWN, reason OUTCOME_UNKNOWN    a create may have happened: look the user up by email and
//                                      create it again only if it is not there;
//   anything else                      one line naming the code, the reason and the request id,
//                                      and exit status 1.
//
// The .proto files are loaded at run time from the repository's proto/ directory.

'use strict';

const path = require('node:path');
const crypto = require('node:crypto');
const { parseArgs } = require('node:util');

const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

const PROTO_ROOT = path.resolve(__dirname, '..', '..', 'proto');
// google.rpc.Status and its details, vendored (Apache-2.0) beside this file.
const RPC_PROTO_ROOT = path.join(__dirname, 'proto');

const DEFAULT_ADDR = '127.0.0.1:50051';
// The key `kinde-gateway --emulator` prints: valid only in that mode, only on loopback.
const DEMO_API_KEY = 'kinde-gateway-demo-key-loopback-only';
const ERROR_DOMAIN = 'kinde-gateway';

// How long one call may take; the gateway answers DEADLINE_EXCEEDED a little before.
const CALL_TIMEOUT_MS = 20_000;
// Tries per step, the first included, for RESOURCE_EXHAUSTED and UNAVAILABLE.
const MAX_ATTEMPTS = 6;
// UNAVAILABLE backoff: the ceiling doubles from BASE up to CAP; the wait is drawn from the upper
// half of it (jitter), and is never shorter than the RetryInfo delay.
const BACKOFF_BASE_MS = 250;
const BACKOFF_CAP_MS = 8_000;
// A RetryInfo delay longer than this is not waited: the step fails and says so.
const MAX_RETRY_INFO_MS = 60_000;
// Creates per user when each ends in OUTCOME_UNKNOWN and the lookup then finds nobody: the
// second is sent only after the lookup showed the first had not happened.
const MAX_CREATES = 2;

const CODE_NAMES = Object.fromEntries(Object.entries(grpc.status).map(([name, code]) => [code, name]));

/** A step that cannot go on; its message is the one line to print. */
class StepFailed extends Error {}

const LOAD_OPTIONS = { keepCase: true, longs: String, enums: String, defaults: false, oneofs: true };

function loadServices() {
  const files = ['organizations.proto', 'users.proto'].map((name) =>
    path.join(PROTO_ROOT, 'kinde', 'management', 'v1', name),
  );
  const definition = protoLoader.loadSync(files, { ...LOAD_OPTIONS, includeDirs: [PROTO_ROOT] });
  return grpc.loadPackageDefinition(definition).kinde.management.v1;
}

function loadStatusTypes() {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) =>
    target.startsWith('google/rpc/') ? path.join(RPC_PROTO_ROOT, target) : target;
  root.loadSync(['google/rpc/status.proto', 'google/rpc/error_details.proto'], { keepCase: true });
  return {
    Status: root.lookupType('google.rpc.Status'),
    ErrorInfo: root.lookupType('google.rpc.ErrorInfo'),
    RetryInfo: root.lookupType('google.rpc.RetryInfo'),
  };
}

const statusTypes = loadStatusTypes();

function firstValue(metadata, key) {
  const values = metadata ? metadata.get(key) : [];
  return values.length > 0 ? values[0] : null;
}

/**
 * What the gateway said about a failed call: decodes `grpc-status-details-bin` (a
 * google.rpc.Status) into the ErrorInfo reason and the RetryInfo delay.
 */
function problemOf(error) {
  let reason = null;
  let retryDelayMs = null;
  const bin = firstValue(error.metadata, 'grpc-status-details-bin');
  if (bin) {
    try {
      const status = statusTypes.Status.decode(bin);
      for (const any of status.details) {
        const typeName = any.type_url.slice(any.type_url.lastIndexOf('/') + 1);
        if (typeName === 'google.rpc.ErrorInfo') {
          const info = statusTypes.ErrorInfo.decode(any.value);
          if (info.domain === ERROR_DOMAIN) reason = info.reason;
        } else if (typeName === 'google.rpc.RetryInfo') {
          const info = statusTypes.RetryInfo.toObject(statusTypes.RetryInfo.decode(any.value), {
            longs: Number,
          });
          const delay = info.retry_delay || {};
          retryDelayMs = (delay.seconds || 0) * 1000 + (delay.nanos || 0) / 1e6;
        }
      }
    } catch {
      // Details that cannot be decoded are ignored: the code and message still stand.
    }
  }
  return {
    code: error.code,
    codeName: CODE_NAMES[error.code] || String(error.code),
    message: error.details || '',
    reason,
    retryDelayMs,
    requestId: error.requestId || firstValue(error.metadata, 'x-request-id'),
  };
}

function summary(problem) {
  const reason = problem.reason ? ` ${problem.reason}` : '';
  return `${problem.codeName}${reason}: ${problem.message}`;
}

function rid(requestId) {
  return requestId ? `(request id ${requestId})` : '(no request id: the gateway did not answer)';
}

function say(step, text, requestId) {
  console.log(`${step}: ${text} ${rid(requestId)}`);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** How to say and how long to wait before trying again, or null when retrying cannot help. */
function retryWait(problem, attempt) {
  if (problem.code === grpc.status.RESOURCE_EXHAUSTED) {
    if (problem.retryDelayMs === null || problem.retryDelayMs > MAX_RETRY_INFO_MS) return null;
    return { how: (s) => `waiting ${s}s as RetryInfo asks`, ms: problem.retryDelayMs };
  }
  if (problem.code === grpc.status.UNAVAILABLE) {
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1));
    let ms = ceiling / 2 + Math.random() * (ceiling / 2);
    if (problem.retryDelayMs !== null) ms = Math.max(ms, Math.min(problem.retryDelayMs, MAX_RETRY_INFO_MS));
    return { how: (s) => `retrying in ${s}s (backoff)`, ms };
  }
  return null;
}

/**
 * Runs `attempt` until it succeeds, retrying RESOURCE_EXHAUSTED and UNAVAILABLE as their status
 * details ask. Other errors are thrown as they came.
 */
async function withRetries(step, attempt) {
  for (let n = 1; n <= MAX_ATTEMPTS; n += 1) {
    try {
      return await attempt();
    } catch (error) {
      if (error.code === undefined) throw error;
      const problem = problemOf(error);
      const wait = retryWait(problem, n);
      if (wait === null) throw error;
      if (n === MAX_ATTEMPTS) {
        throw new StepFailed(`${step}: failed after ${n} attempts: ${summary(problem)} ${rid(problem.requestId)}`);
      }
      const reason = problem.reason ? ` ${problem.reason}` : '';
      say(
        step,
        `${problem.codeName}${reason}, ${wait.how((wait.ms / 1000).toFixed(1))} (attempt ${n} of ${MAX_ATTEMPTS})`,
        problem.requestId,
      );
      await sleep(wait.ms);
    }
  }
  throw new Error('unreachable');
}

function failed(step, error) {
  if (error instanceof StepFailed || error.code === undefined) return error;
  const problem = problemOf(error);
  return new StepFailed(`${step}: failed: ${summary(problem)} ${rid(problem.requestId)}`);
}

class Client {
  constructor(addr, key) {
    const v1 = loadServices();
    const credentials = grpc.credentials.createInsecure();
    this.users = new v1.UsersService(addr, credentials);
    this.organizations = new v1.OrganizationsService(addr, credentials, {
      channelOverride: this.users.getChannel(),
    });
    this.metadata = new grpc.Metadata();
    this.metadata.set('authorization', `Bearer ${key}`);
  }

  close() {
    this.users.close();
  }

  /** Calls a unary RPC; resolves to the response and the request id. */
  unary(stub, method, request) {
    return new Promise((resolve, reject) => {
      let requestId = null;
      const deadline = Date.now() + CALL_TIMEOUT_MS;
      const call = stub[method](request, this.metadata, { deadline }, (error, response) => {
        if (error) {
          error.requestId = requestId || firstValue(error.metadata, 'x-request-id');
          reject(error);
        } else {
          resolve({ response, requestId });
        }
      });
      call.on('metadata', (metadata) => {
        requestId = firstValue(metadata, 'x-request-id');
      });
    });
  }

  /** Reads a server stream to its end; resolves to the items and the request id. */
  stream(stub, method, request) {
    return new Promise((resolve, reject) => {
      let requestId = null;
      const items = [];
      const deadline = Date.now() + CALL_TIMEOUT_MS;
      const call = stub[method](request, this.metadata, { deadline });
      call.on('metadata', (metadata) => {
        requestId = firstValue(metadata, 'x-request-id');
      });
      call.on('data', (item) => items.push(item));
      call.on('error', (error) => {
        error.requestId = requestId || firstValue(error.metadata, 'x-request-id');
        reject(error);
      });
      call.on('end', () => resolve({ items, requestId }));
    });
  }

  async createOrganization(name) {
    const step = 'create organization';
    try {
      const { response, requestId } = await withRetries(step, () =>
        this.unary(this.organizations, 'CreateOrganization', { name }),
      );
      const code = response.organization.code;
      say(step, `created "${name}" as ${code}`, requestId);
      return code;
    } catch (error) {
      throw failed(step, error);
    }
  }

  async findUsers(email, step = 'find user') {
    try {
      const { response, requestId } = await withRetries(step, () =>
        this.unary(this.users, 'GetUsers', { email }),
      );
      const found = (response.users || []).filter(
        (user) => (user.email || '').toLowerCase() === email.toLowerCase(),
      );
      const ids = found.map((user) => user.id).join(', ') || 'none';
      say(step, `${found.length} user(s) with email ${email}: ${ids}`, requestId);
      return found;
    } catch (error) {
      throw failed(step, error);
    }
  }

  async createUser(org, email, given, family) {
    const step = 'create user';
    const request = {
      profile: { given_name: given, family_name: family },
      organization_code: org,
      identities: [{ type: 'email', details: { email } }],
    };
    for (let create = 1; create <= MAX_CREATES; create += 1) {
      let outcome;
      try {
        outcome = await withRetries(step, () => this.unary(this.users, 'CreateUser', request));
      } catch (error) {
        if (error instanceof StepFailed) throw error;
        const problem = error.code === undefined ? null : problemOf(error);
        if (!problem || problem.code !== grpc.status.UNKNOWN || problem.reason !== 'OUTCOME_UNKNOWN') {
          throw failed(step, error);
        }
        // The create may have happened: never repeat it blindly.
        say(
          step,
          'UNKNOWN OUTCOME_UNKNOWN, the user may exist: looking it up by email instead of creating it again',
          problem.requestId,
        );
        const found = await this.findUsers(email, 'look up user');
        if (found.length === 1) {
          say(step, `the create had happened: ${email} is ${found[0].id}`, problem.requestId);
          return found[0].id;
        }
        if (found.length > 1) {
          throw new StepFailed(`${step}: failed: ${found.length} users have email ${email} ${rid(problem.requestId)}`);
        }
        if (create === MAX_CREATES) {
          throw new StepFailed(
            `${step}: failed: the create had not happened, and the outcome stayed unknown ${MAX_CREATES} times for ${email} ${rid(problem.requestId)}`,
          );
        }
        say(step, 'the create had not happened: creating the user once more', problem.requestId);
        continue;
      }
      say(step, `created ${email} as ${outcome.response.id} in ${org}`, outcome.requestId);
      return outcome.response.id;
    }
    throw new Error('unreachable');
  }

  async streamMembers(org) {
    const step = 'stream organization users';
    try {
      // A retried stream starts over: items of a failed attempt are dropped, not merged.
      const { items, requestId } = await withRetries(step, () =>
        this.stream(this.organizations, 'StreamGetOrganizationUsers', { org_code: org }),
      );
      const emails = items.map((item) => item.organization_user.email || item.organization_user.id);
      const more = emails.length > 5 ? ` and ${emails.length - 5} more` : '';
      const shown = emails.slice(0, 5).join(', ') + more;
      say(step, `${items.length} member(s) of ${org}: ${shown || 'none'}`, requestId);
      return items;
    } catch (error) {
      throw failed(step, error);
    }
  }
}

function usage() {
  return [
    'usage: node kinde_client.js [--addr HOST:PORT] [--key API_KEY] [COMMAND]',
    'commands: demo [--email E] | create-org NAME | create-user --org C --email E [--given N] [--family N]',
    '          | find-user --email E | stream-users --org C',
  ].join('\n');
}

async function main(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        addr: { type: 'string', default: process.env.GATEWAY_ADDRESS || DEFAULT_ADDR },
        key: { type: 'string', default: process.env.GATEWAY_API_KEY || DEMO_API_KEY },
        org: { type: 'string' },
        email: { type: 'string' },
        given: { type: 'string', default: 'Ada' },
        family: { type: 'string', default: 'Lovelace' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    console.error(`error: ${error.message}\n${usage()}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(usage());
    return 0;
  }
  const [command = 'demo', ...rest] = positionals;
  const need = (name) => {
    if (!values[name]) throw new StepFailed(`error: ${command} needs --${name}\n${usage()}`);
    return values[name];
  };

  const client = new Client(values.addr, values.key);
  try {
    switch (command) {
      case 'demo': {
        const email = values.email || `ada.${crypto.randomBytes(4).toString('hex')}@example.com`;
        const org = await client.createOrganization('Acme Robotics (Node example)');
        await client.createUser(org, email, values.given, values.family);
        await client.streamMembers(org);
        break;
      }
      case 'create-org':
        if (rest.length !== 1) throw new StepFailed(`error: create-org needs a NAME\n${usage()}`);
        await client.createOrganization(rest[0]);
        break;
      case 'create-user':
        await client.createUser(need('org'), need('email'), values.given, values.family);
        break;
      case 'find-user':
        await client.findUsers(need('email'));
        break;
      case 'stream-users':
        await client.streamMembers(need('org'));
        break;
      default:
        throw new StepFailed(`error: unknown command ${command}\n${usage()}`);
    }
  } catch (error) {
    if (!(error instanceof StepFailed)) throw error;
    console.error(error.message);
    return 1;
  } finally {
    client.close();
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(`error: ${error.message}`);
    process.exitCode = 1;
  },
);
