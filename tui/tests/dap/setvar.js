// setVariable and `call` through evaluate, on the live fixture's `call` program
// (a loop calling main.tick(c, n) every 10 ms):
//
//   node setvar.js ADAPTER_ARGV_JSON LIVE_BINARY OUT_JSON
//
// At main.tick: set tick's own `n` (frame 0) and the caller's loop counter `n`
// (frame 1, through that frame's Locals handle), check both with evaluate, call
// functions from the debug console, then continue: the next tick sees the new loop
// counter + 1, which only holds if the write went to the caller's frame.
'use strict';

const fs = require('fs');
const { startAdapter, connect, eventOf, check } = require('./session');

const INIT = {
  adapterID: 'go', clientID: 'vscode', pathFormat: 'path', linesStartAt1: true,
  columnsStartAt1: true, supportsVariableType: true, supportsVariablePaging: true,
  supportsInvalidatedEvent: true,
};

async function locals(dc, frameId) {
  const sc = await dc.scopesRequest({ frameId });
  return sc.body.scopes[0].variablesReference;
}

async function valueOf(dc, ref, name) {
  const vs = await dc.variablesRequest({ variablesReference: ref });
  const v = vs.body.variables.find((x) => x.name === name);
  return v && v.value;
}

async function evaluate(dc, expression, frameId) {
  try {
    const r = await dc.evaluateRequest({ expression, frameId, context: 'repl' });
    return r.body.result;
  } catch (e) {
    return `error: ${e.message}`;
  }
}

async function main() {
  const [argvJson, bin, out] = process.argv.slice(2);
  const { proc, port } = await startAdapter(JSON.parse(argvJson));
  const record = {};
  try {
    const { dc, events } = await connect(port);
    const init = await dc.initializeRequest(INIT);
    record.supportsSetVariable = init.body.supportsSetVariable;
    await dc.launchRequest({ mode: 'exec', program: bin, args: ['call'] });
    await eventOf(events, dc, 'initialized');
    await dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'main.tick' }] });
    await dc.configurationDoneRequest();
    let ev = await eventOf(events, dc, 'stopped');
    const goid = ev.body.threadId;
    let st = await dc.stackTraceRequest({ threadId: goid, startFrame: 0, levels: 3 });
    const [f0, f1] = st.body.stackFrames;
    check(f0.name === 'main.tick' && f1.name === 'main.callMain', 'stopped in tick from callMain', st.body);
    const l0 = await locals(dc, f0.id);
    const l1 = await locals(dc, f1.id);
    record.before = { tickN: await valueOf(dc, l0, 'n'), loopN: await valueOf(dc, l1, 'n') };

    const s0 = await dc.setVariableRequest({ variablesReference: l0, name: 'n', value: '77' });
    record.setTick = s0.body;
    record.invalidated = (await eventOf(events, dc, 'invalidated', 5000)).body;
    const s1 = await dc.setVariableRequest({ variablesReference: l1, name: 'n', value: '500' });
    record.setLoop = s1.body;
    record.after = { tickN: await evaluate(dc, 'n', f0.id), loopN: await evaluate(dc, 'n', f1.id) };
    try {
      await dc.setVariableRequest({ variablesReference: l0, name: 'nosuch', value: '1' });
      record.setMissing = 'accepted';
    } catch (e) {
      record.setMissing = `error: ${e.message}`;
    }

    record.calls = {
      add: await evaluate(dc, 'call Add(1, 2)', f0.id),
      greet: await evaluate(dc, 'call Greet("dlv")', f0.id),
      mul: await evaluate(dc, 'call c.Mul(5)', f0.id),
      callerFrame: await evaluate(dc, 'call Add(1, 2)', f1.id),
    };

    await dc.continueRequest({ threadId: goid });
    ev = await eventOf(events, dc, 'stopped');
    st = await dc.stackTraceRequest({ threadId: ev.body.threadId, startFrame: 0, levels: 1 });
    record.nextTickN = await evaluate(dc, 'n', st.body.stackFrames[0].id);
    await dc.disconnectRequest({ terminateDebuggee: true });
  } finally {
    fs.writeFileSync(out, JSON.stringify(record, null, 1));
    proc.kill('SIGKILL');
  }
}

main().then(() => process.exit(0), (e) => {
  console.error(`FAIL: ${e.stack || e}`);
  process.exit(1);
});
