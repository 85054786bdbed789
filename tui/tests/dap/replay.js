// Scenario: an rr recording replayed by the adapter (mode replay), backwards.
//
//   node replay.js ADAPTER_ARGV_JSON TRACE_DIR BINARY OUT
//
// The trace is `rr record BINARY loop 50` (cores/live/loop.go): main.f(i) is called
// for i = 0..49 from loopMain's `sum += f(i)`.
// Checks: the capabilities event says supportsStepBack; a function breakpoint on
// main.f stops at i = 0 then 1; stepBack from f's entry goes back to the call in
// loopMain; reverseContinue goes back to the breakpoint at i = 0; stepBack at
// instruction granularity moves the PC back; disconnect ends the replay.
'use strict';

const fs = require('fs');
const { startAdapter, connect, eventOf, check } = require('./session');

async function top(dc, goid) {
  const st = await dc.stackTraceRequest({ threadId: goid, startFrame: 0, levels: 3 });
  return st.body.stackFrames[0];
}

async function value(dc, frameId, expr) {
  const r = await dc.evaluateRequest({ expression: expr, frameId, context: 'repl' });
  return r.body.result;
}

async function main() {
  const [argvJson, trace, bin, out] = process.argv.slice(2);
  const record = {};
  const { proc, port } = await startAdapter(JSON.parse(argvJson));
  try {
    const { dc, events, transcript } = await connect(port);
    record.transcript = transcript;
    await dc.initializeRequest({ adapterID: 'go', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' });
    await dc.launchRequest({ mode: 'replay', traceDirPath: trace, program: bin });
    const caps = await eventOf(events, dc, 'capabilities', 60000);
    check(caps.body.capabilities.supportsStepBack === true, 'supportsStepBack after launch', caps.body);
    await eventOf(events, dc, 'initialized');
    const fb = await dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'main.f' }] });
    check(fb.body.breakpoints[0].verified, 'function breakpoint verified', fb.body);
    await dc.configurationDoneRequest();
    let ev = await eventOf(events, dc, 'stopped', 60000);
    check(ev.body.reason === 'function breakpoint', 'first stop on main.f', ev.body);
    let f = await top(dc, ev.body.threadId);
    record.first = { name: f.name, line: f.line, i: await value(dc, f.id, 'i') };
    check(record.first.i === '0', 'i is 0 at the first call', record.first);

    await dc.continueRequest({ threadId: ev.body.threadId });
    ev = await eventOf(events, dc, 'stopped', 60000);
    f = await top(dc, ev.body.threadId);
    record.second = { name: f.name, line: f.line, i: await value(dc, f.id, 'i') };
    check(record.second.i === '1', 'i is 1 at the second call', record.second);

    await dc.send('stepBack', { threadId: ev.body.threadId });
    ev = await eventOf(events, dc, 'stopped', 60000);
    f = await top(dc, ev.body.threadId);
    record.stepBack = { reason: ev.body.reason, name: f.name, line: f.line, i: await value(dc, f.id, 'i') };
    check(ev.body.reason === 'step' && f.name === 'main.loopMain' && record.stepBack.i === '1',
      'stepBack from f went back to its call in loopMain', record.stepBack);

    const pc1 = f.instructionPointerReference;
    await dc.send('stepBack', { threadId: ev.body.threadId, granularity: 'instruction' });
    ev = await eventOf(events, dc, 'stopped', 60000);
    f = await top(dc, ev.body.threadId);
    const pc2 = f.instructionPointerReference;
    record.stepBackInstruction = { pc1, pc2 };
    check(BigInt(pc2) < BigInt(pc1) && BigInt(pc1) - BigInt(pc2) <= 15n,
      'an instruction back moves the PC back by one instruction', record.stepBackInstruction);

    await dc.send('reverseContinue', { threadId: ev.body.threadId });
    ev = await eventOf(events, dc, 'stopped', 60000);
    f = await top(dc, ev.body.threadId);
    record.reverseContinue = { reason: ev.body.reason, name: f.name, i: await value(dc, f.id, 'i') };
    check(f.name === 'main.f' && record.reverseContinue.i === '0',
      'reverseContinue went back to the first call', record.reverseContinue);
    await dc.disconnectRequest({});
  } finally {
    fs.writeFileSync(out, JSON.stringify(record, null, 1));
    proc.kill('SIGKILL');
  }
}

main().then(() => process.exit(0), (e) => {
  console.error(`FAIL: ${e.stack || e}`);
  process.exit(1);
});
