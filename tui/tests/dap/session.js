// Shared plumbing for the DAP scenarios: start an adapter in server mode (`coroner dap`
// or, for recording references, `dlv dap`), connect Microsoft's DebugClient to it, and
// keep a transcript of every request, response and event.
'use strict';

const cp = require('child_process');
const { DebugClient } = require('@vscode/debugadapter-testsupport');

/** Start `argv` (an adapter listening on a free port) and resolve with {proc, port}. */
function startAdapter(argv, env) {
  return new Promise((resolve, reject) => {
    const proc = cp.spawn(argv[0], argv.slice(1), {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: Object.assign({}, process.env, env || {}),
    });
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${argv[0]} printed no listening address`)), 30000);
    proc.on('error', reject);
    proc.on('exit', (code) => reject(new Error(`${argv[0]} exited with ${code} before listening`)));
    const onData = (d) => {
      buf += d.toString();
      const m = buf.match(/DAP server listening at: (\S+):(\d+)/);
      if (m) {
        clearTimeout(timer);
        proc.stdout.removeListener('data', onData);
        proc.removeAllListeners('exit');
        // Keep draining: a launched debuggee may write to this stdout.
        proc.stdout.on('data', (x) => process.stderr.write(x));
        resolve({ proc, port: Number(m[2]) });
      }
    };
    proc.stdout.on('data', onData);
  });
}

/** A DebugClient over `port` that records the conversation in `transcript`. */
async function connect(port) {
  const dc = new DebugClient('unused', 'unused', 'go');
  const transcript = [];
  const origSend = dc.send.bind(dc);
  dc.send = (command, args) => {
    transcript.push({ request: command, arguments: args === undefined ? null : args });
    return origSend(command, args);
  };
  const events = [];
  const origDispatch = dc.dispatch.bind(dc);
  dc.dispatch = (body) => {
    try {
      const m = JSON.parse(body);
      if (m.type === 'event') {
        transcript.push({ event: m.event, body: m.body === undefined ? null : m.body });
        events.push(m);
      } else if (m.type === 'response') {
        const r = { response: m.command, success: m.success, body: m.body === undefined ? null : m.body };
        if (!m.success) r.message = m.message;
        transcript.push(r);
      }
    } catch (_) {
      // the client reports framing problems itself
    }
    return origDispatch(body);
  };
  await dc.start(port);
  // Server mode disables every timeout: restore them, so a hang fails the test.
  dc.defaultTimeout = 30000;
  return { dc, transcript, events };
}

/** The first event of `type` already received or arriving within `ms`. */
function eventOf(events, dc, type, ms) {
  const seen = events.find((e) => e.event === type && !e._taken);
  if (seen) {
    seen._taken = true;
    return Promise.resolve(seen);
  }
  const limit = ms || 30000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${type}' event within ${limit} ms`)), limit);
    dc.once(type, (e) => {
      clearTimeout(timer);
      const mine = events.find((x) => x.event === type && !x._taken);
      if (mine) mine._taken = true;
      resolve(e);
    });
  });
}

/** Fail with a message that shows the values compared. */
function check(cond, what, got) {
  if (!cond) {
    throw new Error(`${what}: got ${JSON.stringify(got, null, 1)}`);
  }
}

/** Wait until the process `pid` is gone (kill -0 fails) or `ms` pass. */
async function gone(pid, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      process.kill(pid, 0);
    } catch (_) {
      return true;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

module.exports = { startAdapter, connect, eventOf, check, gone };
