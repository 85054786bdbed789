// A DAP client of a `--headless` JSON-RPC server's port (Delve serves both protocols
// on one listener): join the existing target with attach mode "remote".
//
//   node headless.js PORT SCENARIO OUT_JSON
//
// live: the server runs `live loop N`: a function breakpoint on main.f, continue to
//       it, read the stack and `i`, then disconnect without terminateDebuggee (a
//       multiclient server keeps the target for the next client).
// core: the server has a core open: the stopped event names a goroutine, its stack
//       reads, then disconnect (a single-client server ends).
'use strict';

const fs = require('fs');
const { connect, eventOf, check } = require('./session');

const INIT = {
  adapterID: 'go', clientID: 'vscode', pathFormat: 'path', linesStartAt1: true,
  columnsStartAt1: true, supportsVariableType: true, supportsVariablePaging: true,
};

async function main() {
  const [port, scenario, outPath] = process.argv.slice(2);
  const { dc, events } = await connect(Number(port));
  const record = {};
  await dc.initializeRequest(INIT);
  // A launch is refused: the server has a target already.
  let refused = null;
  try {
    await dc.launchRequest({ mode: 'exec', program: '/bin/true' });
  } catch (e) {
    refused = e.message;
  }
  check(refused !== null, 'launch refused', refused);
  await dc.attachRequest({ mode: 'remote' });
  await eventOf(events, dc, 'initialized');
  if (scenario === 'live') {
    const fb = await dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'main.f' }] });
    check(fb.body.breakpoints[0].verified, 'function breakpoint verified', fb.body);
  }
  await dc.configurationDoneRequest();
  const ev = await eventOf(events, dc, 'stopped');
  record.stopped = ev.body;
  const st = await dc.stackTraceRequest({ threadId: ev.body.threadId, startFrame: 0, levels: 3 });
  const top = st.body.stackFrames[0];
  record.top = { name: top.name, line: top.line };
  if (scenario === 'live') {
    check(ev.body.reason === 'function breakpoint', 'stopped on the function breakpoint', ev.body);
    check(top.name === 'main.f', 'top frame is main.f', top);
    const v = await dc.evaluateRequest({ expression: 'i', frameId: top.id, context: 'repl' });
    record.i = v.body.result;
  } else {
    check(ev.body.reason === 'exception', 'a core stops on its cause of death', ev.body);
  }
  const th = await dc.threadsRequest();
  record.threads = th.body.threads.length;
  await dc.disconnectRequest({ terminateDebuggee: false });
  if (scenario === 'live') await eventOf(events, dc, 'terminated');
  fs.writeFileSync(outPath, JSON.stringify(record, null, 1));
  await dc.stop();
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
