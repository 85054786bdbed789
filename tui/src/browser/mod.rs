//! The full-screen browser (`coroner core BIN CORE`, and `coroner exec/debug/test/
//! attach`, on a terminal).
//!
//! - `app.rs`: state and input handling (no terminal: tests drive it directly);
//! - `ui.rs`: rendering with ratatui;
//! - `groups.rs`: goroutines grouped by stack, in a background thread with progress;
//! - `vars.rs`, `source.rs`: the variables tree and the source/disassembly pane;
//! - `shared.rs`: one target shared by the panes and the command bar's session;
//! - `actor.rs`, `live.rs`, `ui_live.rs`: a live process (the debugger on its own
//!   thread, execution keys, breakpoints, watches, the run state);
//! - `input.rs`: what keys and the mouse do.

pub mod actor;
pub mod app;
pub mod groups;
pub mod input;
pub mod keys;
pub mod live;
pub mod shared;
pub mod source;
pub mod ui;
pub mod ui_live;
pub mod vars;

use app::App;
use coroner::analyze::Registry;
use coroner::repl::Session;
use coroner::target::{OpenOptions, Target};
use crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event, KeyEventKind};
use crossterm::terminal::{self, EnterAlternateScreen, LeaveAlternateScreen};
use ratatui::backend::CrosstermBackend;
use ratatui::widgets::Paragraph;
use ratatui::Terminal;
use std::io::Stdout;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the event loop waits for input before checking background work.
const TICK: Duration = Duration::from_millis(50);

/// Put the terminal back the way the shell had it. Safe to call more than once.
fn restore_terminal() {
    let _ = terminal::disable_raw_mode();
    let _ = crossterm::execute!(
        std::io::stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

/// Raw mode and the alternate screen for as long as it lives; restored on drop (normal
/// exit and `?` errors) and by a panic hook (panics).
struct TerminalGuard {
    term: Terminal<CrosstermBackend<Stdout>>,
}

impl TerminalGuard {
    fn enter() -> anyhow::Result<TerminalGuard> {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            prev(info);
        }));
        terminal::enable_raw_mode()?;
        let mut out = std::io::stdout();
        if let Err(e) = crossterm::execute!(out, EnterAlternateScreen, EnableMouseCapture) {
            restore_terminal();
            return Err(e.into());
        }
        match Terminal::new(CrosstermBackend::new(out)) {
            Ok(term) => Ok(TerminalGuard { term }),
            Err(e) => {
                restore_terminal();
                Err(e.into())
            }
        }
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

/// Open the core in the background (showing progress), then browse it until `q`.
/// `config` is the user's persistent settings (substitute-path, load limits), applied
/// as in the REPL.
pub fn run(
    opts: OpenOptions,
    analyzers: Registry,
    config: coroner::repl::Config,
) -> anyhow::Result<()> {
    // The browser owns the terminal: no progress lines on stderr under it.
    coroner::symbols::dwarf::set_index_progress(false);
    let mut guard = TerminalGuard::enter()?;
    let started = Instant::now();
    let (tx, rx) = std::sync::mpsc::channel();
    let o = opts.clone();
    std::thread::spawn(move || {
        let _ = tx.send(Target::open(&o));
    });
    // Loading screen: input stays live (q quits) while the core opens.
    let target = loop {
        match rx.try_recv() {
            Ok(r) => break r?,
            Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                anyhow::bail!("the thread opening the core died")
            }
            Err(std::sync::mpsc::TryRecvError::Empty) => {}
        }
        let msg = format!(
            "coroner: opening {} with {} ... {:.1}s  (q quits)",
            opts.core.display(),
            opts.binary.display(),
            started.elapsed().as_secs_f64()
        );
        guard
            .term
            .draw(|f| f.render_widget(Paragraph::new(msg.as_str()), f.area()))?;
        if event::poll(TICK)? {
            if let Event::Key(k) = event::read()? {
                let ctrl_c = k.modifiers.contains(event::KeyModifiers::CONTROL)
                    && k.code == event::KeyCode::Char('c');
                if k.code == event::KeyCode::Char('q') || ctrl_c {
                    return Ok(());
                }
            }
        }
    };
    let target = Arc::new(target);
    let mut session = Session::with_debuggee(Box::new(shared::SharedTarget(target.clone())));
    session.set_analyzers(analyzers);
    session.config = config;
    let mut app = App::new(
        target,
        session,
        &file_name(&opts.binary),
        &file_name(&opts.core),
    );
    event_loop(&mut guard, &mut app)
}

/// Draw and dispatch input until the app quits.
fn event_loop(guard: &mut TerminalGuard, app: &mut App) -> anyhow::Result<()> {
    let mut dirty = true;
    while !app.quit {
        dirty |= app.tick();
        // Redraw while grouping runs (the progress counter) and while a live program
        // runs (its output, the run state).
        if dirty || app.progress().is_some() || app.live().is_some_and(|l| l.link.busy) {
            guard.term.draw(|f| ui::draw(f, app))?;
            dirty = false;
        }
        if event::poll(TICK)? {
            match event::read()? {
                Event::Key(k) if k.kind != KeyEventKind::Release => app.on_key(k),
                Event::Mouse(m) => app.on_mouse(m),
                Event::Resize(..) => guard.term.autoresize()?,
                _ => {}
            }
            dirty = true;
        }
    }
    Ok(())
}

/// The browser on a live process (`coroner exec/debug/test/attach` on a terminal).
/// The calling thread must be the one that started or attached the process (the
/// ptrace tracer): it becomes the debugger's actor, and the browser runs on a thread
/// of its own. Returns what to tell the user once the terminal is restored (e.g.
/// "Detached from process N"). The process is always released: as `q` chose, else
/// as the REPL's `exit` does (kill a launched one, detach from an attached one).
pub fn run_live(
    mut session: Session,
    binary: &str,
    program: Option<live::ProgramOutput>,
) -> anyhow::Result<String> {
    coroner::symbols::dwarf::set_index_progress(false);
    let Some(d) = session.debugger() else {
        anyhow::bail!("the live browser needs a live process");
    };
    let (link, mut actor) = actor::channel(d.interrupter());
    let Some(state) = actor.state(&session) else {
        anyhow::bail!("the live browser needs a live process");
    };
    let name = binary.to_string();
    let ui = std::thread::Builder::new().name("browser".into()).spawn(
        move || -> anyhow::Result<()> {
            let running = link.running_flag();
            let mut guard = TerminalGuard::enter()?;
            ACTIVE.store(true, Ordering::SeqCst);
            let mut app = App::new_live(state, link, program, &name);
            let r = event_loop(&mut guard, &mut app);
            // Dropping the app closes the channel: the actor stops serving.
            drop(app);
            drop(guard);
            ACTIVE.store(false, Ordering::SeqCst);
            last_resort(&running);
            r
        },
    )?;
    let ending = actor.serve(&mut session);
    // Closing our end tells the browser the debugger is gone, should it still run.
    drop(actor);
    let msg = match ending {
        actor::Ending::Released(m) => m,
        actor::Ending::Open => actor::release(&mut session, None),
    };
    let r = match ui.join() {
        Ok(r) => r,
        Err(_) => Err(anyhow::anyhow!("the browser thread panicked")),
    };
    r.map(|()| msg)
}

/// The core browser on a target opened elsewhere (a server's, through its snapshot).
pub fn run_snapshot(
    target: Arc<Target>,
    session: Session,
    binary: &str,
    what: &str,
) -> anyhow::Result<()> {
    coroner::symbols::dwarf::set_index_progress(false);
    let mut guard = TerminalGuard::enter()?;
    ACTIVE.store(true, Ordering::SeqCst);
    let mut app = App::new(target, session, binary, what);
    let r = event_loop(&mut guard, &mut app);
    drop(guard);
    ACTIVE.store(false, Ordering::SeqCst);
    r
}

/// The live browser with its requests served by `serve` on the calling thread (the
/// browser on a server's target: `serve` sends them to the server). `serve` gets the
/// requests, the reply channel and the running flag, and returns what to tell the
/// user once the terminal is restored.
pub fn run_served(
    state: actor::LiveState,
    interrupter: Arc<dyn coroner::backend::Interrupter>,
    binary: &str,
    serve: impl FnOnce(
        std::sync::mpsc::Receiver<actor::Request>,
        std::sync::mpsc::Sender<actor::Reply>,
        Arc<AtomicBool>,
    ) -> String,
) -> anyhow::Result<String> {
    coroner::symbols::dwarf::set_index_progress(false);
    let (link, rx, tx, running) = actor::remote_channel(interrupter);
    let name = binary.to_string();
    let ui = std::thread::Builder::new().name("browser".into()).spawn(
        move || -> anyhow::Result<()> {
            let mut guard = TerminalGuard::enter()?;
            ACTIVE.store(true, Ordering::SeqCst);
            let mut app = App::new_live(state, link, None, &name);
            let r = event_loop(&mut guard, &mut app);
            drop(app);
            drop(guard);
            ACTIVE.store(false, Ordering::SeqCst);
            r
        },
    )?;
    let msg = serve(rx, tx, running);
    let r = match ui.join() {
        Ok(r) => r,
        Err(_) => Err(anyhow::anyhow!("the browser thread panicked")),
    };
    r.map(|()| msg)
}

/// After the browser quit, the debugger's thread releases the process. If it is still
/// blocked in a resume two seconds later (the halt did not reach the program), the
/// backend's emergency cleanup kills a launched program or detaches from an attached
/// one, which also ends that wait.
fn last_resort(running: &AtomicBool) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while running.load(Ordering::SeqCst) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    if running.load(Ordering::SeqCst) {
        coroner::backend::ptrace::emergency_cleanup();
    }
}

/// The browser owns the terminal (raw mode, alternate screen) right now.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Give the terminal back if the browser has it: for a fatal signal (SIGTERM) that
/// ends coroner without unwinding.
pub fn restore_terminal_if_active() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        restore_terminal();
    }
}
