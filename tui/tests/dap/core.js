// Scenario 1: a Go core file. initialize, launch {mode: core}, configurationDone, the
// stopped event on the crashing goroutine, threads, stackTrace, scopes, variables with
// children, evaluate, exceptionInfo, disconnect.
//
//   node core.js ADAPTER_ARGV_JSON BIN CORE TRANSCRIPT_OUT [EXPRESSIONS_JSON]
//
// The transcript (every request, response and event) is written to TRANSCRIPT_OUT for
// the Rust test to compare with coroner's REPL and with Delve's recorded answers.
'use strict';

const fs = require('fs');
const { startAdapter, connect, eventOf, check } = require('./session');

async function main() {
  const [argvJson, bin, core, out, exprsJson] = process.argv.slice(2);
  const exprs = exprsJson ? JSON.parse(exprsJson) : ['key', 'value', 'len(key)', 'value + 1', 'main.ErrBadLimit'];
  const { proc, port } = await startAdapter(JSON.parse(argvJson));
  let transcript = [];
  try {
    const c = await connect(port);
    transcript = c.transcript;
    const { dc, events } = c;
    const init = await dc.initializeRequest({
      adapterID: 'go',
      clientID: 'vscode',
      pathFormat: 'path',
      linesStartAt1: true,
      columnsStartAt1: true,
      supportsVariableType: true,
      supportsVariablePaging: true,
      supportsRunInTerminalRequest: false,
    });
    check(init.body.supportsConfigurationDoneRequest, 'initialize: configurationDone capability', init.body);
    check(!init.body.supportsStepBack, 'initialize: no step back on a core', init.body);
    await dc.launchRequest({ mode: 'core', program: bin, coreFilePath: core });
    await eventOf(events, dc, 'initialized');
    await dc.configurationDoneRequest();
    const stopped = await eventOf(events, dc, 'stopped');
    const goid = stopped.body.threadId;
    check(goid > 0, 'stopped event names a goroutine', stopped.body);
    const threads = await dc.threadsRequest();
    check(threads.body.threads.some((t) => t.id === goid), 'the stopped goroutine is a thread', threads.body);
    const st = await dc.stackTraceRequest({ threadId: goid, startFrame: 0, levels: 20 });
    check(st.body.stackFrames.length > 0, 'stackTrace has frames', st.body);
    // Paging: the second page starts where the first one's frame 2 is.
    const page = await dc.stackTraceRequest({ threadId: goid, startFrame: 2, levels: 2 });
    check(page.body.stackFrames.length === 2 && page.body.stackFrames[0].name === st.body.stackFrames[2].name,
      'stackTrace paging', page.body);
    // The first frame in user code (main.*): where the editor opens.
    const user = st.body.stackFrames.find((f) => f.name.startsWith('main.'));
    check(user, 'a main.* frame', st.body);
    const scopes = await dc.scopesRequest({ frameId: user.id });
    check(scopes.body.scopes.length > 0, 'scopes', scopes.body);
    const locals = await dc.variablesRequest({ variablesReference: scopes.body.scopes[0].variablesReference });
    // Walk one level into every compound variable (lazily loaded children).
    const children = {};
    for (const v of locals.body.variables) {
      if (v.variablesReference > 0) {
        const ch = await dc.variablesRequest({ variablesReference: v.variablesReference });
        children[v.name] = ch.body.variables;
      }
    }
    // Expand a value's children `depth` levels down (the first 20 of each level).
    const expand = async (ref, depth) => {
      if (!(ref > 0) || depth === 0) return undefined;
      const r = await dc.variablesRequest({ variablesReference: ref });
      const out = [];
      for (const v of r.body.variables.slice(0, 20)) {
        const x = Object.assign({}, v);
        const kids = await expand(v.variablesReference, depth - 1);
        if (kids) x.children = kids;
        out.push(x);
      }
      return out;
    };
    const evals = {};
    for (const expr of exprs) {
      try {
        const r = await dc.evaluateRequest({ expression: expr, frameId: user.id, context: 'repl' });
        evals[expr] = Object.assign({}, r.body);
        const kids = await expand(r.body.variablesReference, 3);
        if (kids) evals[expr].children = kids;
      } catch (e) {
        evals[expr] = { error: String(e.message) };
      }
    }
    let help = null;
    try {
      help = (await dc.evaluateRequest({ expression: 'dlv help', frameId: user.id, context: 'repl' })).body;
    } catch (e) {
      help = { error: String(e.message) };
    }
    let exc = null;
    try {
      exc = (await dc.exceptionInfoRequest({ threadId: goid })).body;
    } catch (e) {
      exc = { error: String(e.message) };
    }
    await dc.disconnectRequest({});
    fs.writeFileSync(out, JSON.stringify({
      stopped: stopped.body, threads: threads.body.threads, frames: st.body.stackFrames,
      totalFrames: st.body.totalFrames, userFrame: user, scopes: scopes.body.scopes,
      locals: locals.body.variables, children, evals, help, exception: exc, transcript,
    }, null, 1));
  } finally {
    if (out && !fs.existsSync(out)) {
      fs.writeFileSync(out + '.partial', JSON.stringify(transcript, null, 1));
    }
    proc.kill('SIGKILL');
  }
}

main().then(() => process.exit(0), (e) => {
  console.error(`FAIL: ${e.stack || e}`);
  process.exit(1);
});
