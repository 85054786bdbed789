// Scenario 2: a live program launched by the adapter (mode exec).
//
//   node live.js ADAPTER_ARGV_JSON LIVE_BINARY LINES_JSON TRANSCRIPT_OUT
//
// LINES_JSON maps `// LINE:` marker names of cores/live/*.go to line numbers (the
// Rust test greps them, so nothing here hard-codes a line).
//
// step: a function breakpoint, next, stepOut, a source breakpoint, stepIn, a log
//       point, run to the end (exited, terminated).
// loop: run, pause while running, stack and evaluate, continue, `threads` while
//       running, disconnect {terminateDebuggee} while running: the process is gone.
// vanish: run, then the client drops the connection mid-continue: the launched
//       process is killed and the adapter exits.
'use strict';

const fs = require('fs');
const { startAdapter, connect, eventOf, check, gone } = require('./session');

const INIT = {
  adapterID: 'go', clientID: 'vscode', pathFormat: 'path', linesStartAt1: true,
  columnsStartAt1: true, supportsVariableType: true, supportsVariablePaging: true,
};

async function top(dc, goid) {
  const st = await dc.stackTraceRequest({ threadId: goid, startFrame: 0, levels: 5 });
  return st.body.stackFrames[0];
}

async function stepScenario(dc, events, bin, L, record) {
  await dc.initializeRequest(INIT);
  await dc.launchRequest({ mode: 'exec', program: bin, args: ['step'] });
  const proc = await eventOf(events, dc, 'process');
  await eventOf(events, dc, 'initialized');
  const fb = await dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'main.stepLoop' }] });
  check(fb.body.breakpoints[0].verified, 'function breakpoint verified', fb.body);
  await dc.configurationDoneRequest();
  let ev = await eventOf(events, dc, 'stopped');
  check(ev.body.reason === 'function breakpoint', 'stopped on the function breakpoint', ev.body);
  let f = await top(dc, ev.body.threadId);
  record.atFunctionBreakpoint = f;
  // With -N -l the entry breakpoint is on the func line or its first statement.
  check(f.name === 'main.stepLoop' && (f.line === L['loop-start'] || f.line === L['loop-start'] - 1),
    'at main.stepLoop entry', f);
  const entryLine = f.line;
  const src = f.source.path;

  await dc.nextRequest({ threadId: ev.body.threadId });
  ev = await eventOf(events, dc, 'stopped');
  check(ev.body.reason === 'step', 'next stops with reason step', ev.body);
  f = await top(dc, ev.body.threadId);
  record.afterNext = f;
  check(f.name === 'main.stepLoop' && f.line === entryLine + 1, 'next went to the next line', f);

  await dc.stepOutRequest({ threadId: ev.body.threadId });
  ev = await eventOf(events, dc, 'stopped');
  f = await top(dc, ev.body.threadId);
  record.afterStepOut = f;
  check(ev.body.reason === 'step' && f.name === 'main.stepMain' && f.line === L['step-call-loop'],
    'stepOut returned to the caller', { ev: ev.body, f });

  const bps = await dc.setBreakpointsRequest({
    source: { path: src },
    breakpoints: [
      { line: L['step-call-closure'] },
      { line: L['closure-body'], logMessage: 'x={x} base={base}' },
    ],
  });
  record.breakpoints = bps.body.breakpoints;
  check(bps.body.breakpoints.every((b) => b.verified), 'source breakpoints verified', bps.body);
  await dc.continueRequest({ threadId: ev.body.threadId });
  ev = await eventOf(events, dc, 'stopped');
  f = await top(dc, ev.body.threadId);
  record.atBreakpoint = { event: ev.body, frame: f };
  check(ev.body.reason === 'breakpoint' && f.line === L['step-call-closure'] &&
    ev.body.hitBreakpointIds[0] === bps.body.breakpoints[0].id, 'stopped at the source breakpoint', record.atBreakpoint);

  await dc.stepInRequest({ threadId: ev.body.threadId });
  ev = await eventOf(events, dc, 'stopped');
  f = await top(dc, ev.body.threadId);
  record.afterStepIn = f;
  check(ev.body.reason === 'step' && f.name === 'main.apply', 'stepIn entered apply', f);
  const scopes = await dc.scopesRequest({ frameId: f.id });
  const vars = await dc.variablesRequest({ variablesReference: scopes.body.scopes[0].variablesReference });
  record.applyLocals = vars.body.variables;
  check(vars.body.variables.some((v) => v.name === 'x' && v.value === '1'), 'apply has x = 1', vars.body);

  // The log point prints twice (apply(add, 1), apply(add, 2)), then the program ends.
  await dc.continueRequest({ threadId: ev.body.threadId });
  await eventOf(events, dc, 'exited', 60000);
  await eventOf(events, dc, 'terminated');
  const logs = events.filter((e) => e.event === 'output' && /^> \[Go \d+\]: /.test(e.body.output)).map((e) => e.body.output);
  record.logPoints = logs;
  check(logs.length === 2 && logs[0].endsWith(': x=1 base=10\n') && logs[1].endsWith(': x=2 base=10\n'), 'log point output', logs);
  await dc.disconnectRequest({});
  check(await gone(proc.body.systemProcessId, 10000), 'the program is gone', proc.body);
}

async function loopScenario(dc, events, bin, L, record) {
  await dc.initializeRequest(INIT);
  await dc.launchRequest({ mode: 'exec', program: bin, args: ['loop', '2000000000'] });
  const proc = await eventOf(events, dc, 'process');
  await eventOf(events, dc, 'initialized');
  await dc.configurationDoneRequest();
  await new Promise((r) => setTimeout(r, 700));
  await dc.pauseRequest({ threadId: 1 });
  let ev = await eventOf(events, dc, 'stopped');
  record.paused = ev.body;
  check(ev.body.reason === 'pause', 'pause stops with reason pause', ev.body);
  const threads = await dc.threadsRequest();
  // Delve's pause event names no goroutine; coroner's names the halted thread's.
  const paused = ev.body.threadId || (threads.body.threads.find((t) => / main\./.test(t.name)) || {}).id;
  check(threads.body.threads.some((t) => t.id === paused), 'the paused goroutine is listed', threads.body);
  const st = await dc.stackTraceRequest({ threadId: paused, startFrame: 0, levels: 20 });
  record.pausedStack = st.body.stackFrames.map((f) => f.name);
  const loop = st.body.stackFrames.find((f) => f.name === 'main.loopMain');
  check(loop, 'main.loopMain is on the paused stack', st.body);
  const n = await dc.evaluateRequest({ expression: 'n', frameId: loop.id, context: 'repl' });
  check(n.body.result === '2000000000', 'n in loopMain', n.body);
  await dc.continueRequest({ threadId: paused });
  await new Promise((r) => setTimeout(r, 300));
  const running = await dc.threadsRequest();
  record.threadsWhileRunning = running.body.threads;
  await dc.disconnectRequest({ terminateDebuggee: true });
  check(await gone(proc.body.systemProcessId, 10000), 'disconnect killed the program', proc.body);
}

async function vanishScenario(dc, events, bin, L, record, port) {
  await dc.initializeRequest(INIT);
  await dc.launchRequest({ mode: 'exec', program: bin, args: ['loop', '2000000000'] });
  const proc = await eventOf(events, dc, 'process');
  await eventOf(events, dc, 'initialized');
  await dc.configurationDoneRequest();
  await new Promise((r) => setTimeout(r, 500));
  record.pid = proc.body.systemProcessId;
  // Drop the connection without a disconnect request.
  dc._socket.destroy();
  check(await gone(proc.body.systemProcessId, 15000), 'the launched program was killed', proc.body);
}

async function main() {
  const [argvJson, bin, linesJson, out, which] = process.argv.slice(2);
  const L = JSON.parse(linesJson);
  const scenarios = { step: stepScenario, loop: loopScenario, vanish: vanishScenario };
  const results = {};
  for (const name of (which ? which.split(',') : Object.keys(scenarios))) {
    const { proc, port } = await startAdapter(JSON.parse(argvJson));
    const record = {};
    results[name] = record;
    const exited = new Promise((r) => proc.on('exit', (code, sig) => r({ code, sig })));
    try {
      const { dc, events, transcript } = await connect(port);
      record.transcript = transcript;
      await scenarios[name](dc, events, bin, L, record, port);
      // coroner's adapter serves one session, then exits on its own (Delve's lingers).
      if (JSON.parse(argvJson)[0].endsWith('/dlv')) continue;
      const end = await Promise.race([exited, new Promise((r) => setTimeout(() => r(null), 15000))]);
      check(end !== null, `the adapter exits after the ${name} session`, end);
    } catch (e) {
      fs.writeFileSync(out, JSON.stringify(results, null, 1));
      throw new Error(`${name}: ${e.message}`);
    } finally {
      proc.kill('SIGKILL');
    }
  }
  fs.writeFileSync(out, JSON.stringify(results, null, 1));
}

main().then(() => process.exit(0), (e) => {
  console.error(`FAIL: ${e.stack || e}`);
  process.exit(1);
});
