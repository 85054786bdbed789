//! Delve's `--log` / `--log-output` / `--log-dest`: a few named layers whose events go
//! to stderr (or a file / an open descriptor) when asked for.
//!
//! The crate has no logging facility of its own; this one is deliberately tiny: one
//! atomic bit mask, so a disabled layer costs a load and a branch at each call site
//! (the gdbserial packet path runs it for every packet).

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

/// The layers, with Delve's component names (`--log-output=NAME,...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// The execution layer's main events (process start/attach, stops, breakpoints).
    Debugger = 0,
    /// Packets of the GDB remote protocol (gdbserver, rr, qemu).
    GdbWire,
    /// Output of the debugserver stub (macOS in Delve; accepted, never written here).
    LldbOut,
    /// Errors decoding DWARF line tables.
    DebugLineErr,
    /// JSON-RPC messages of the headless server.
    Rpc,
    /// Debug Adapter Protocol messages.
    Dap,
    /// Injected function calls.
    FnCall,
    /// Minidump parsing.
    Minidump,
    /// Stack unwinding.
    Stack,
}

impl Layer {
    const ALL: [Layer; 9] = [
        Layer::Debugger,
        Layer::GdbWire,
        Layer::LldbOut,
        Layer::DebugLineErr,
        Layer::Rpc,
        Layer::Dap,
        Layer::FnCall,
        Layer::Minidump,
        Layer::Stack,
    ];

    /// The name `--log-output` takes.
    pub fn name(self) -> &'static str {
        match self {
            Layer::Debugger => "debugger",
            Layer::GdbWire => "gdbwire",
            Layer::LldbOut => "lldbout",
            Layer::DebugLineErr => "debuglineerr",
            Layer::Rpc => "rpc",
            Layer::Dap => "dap",
            Layer::FnCall => "fncall",
            Layer::Minidump => "minidump",
            Layer::Stack => "stack",
        }
    }

    /// The `layer=` tag Delve prints on each line (gdbwire logs as `gdbconn`).
    fn tag(self) -> &'static str {
        match self {
            Layer::GdbWire => "gdbconn",
            other => other.name(),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LogError {
    #[error("unknown log output value {0:?} (known: debugger, gdbwire, lldbout, debuglineerr, rpc, dap, fncall, minidump, stack)")]
    UnknownLayer(String),
    /// Delve refuses `--log-output` without `--log` rather than ignoring it.
    #[error("--log-output specified without --log")]
    OutputWithoutLog,
    #[error("--log-dest specified without --log")]
    DestWithoutLog,
    #[error("cannot open log destination {0}: {1}")]
    Dest(String, String),
}

static ENABLED: AtomicU32 = AtomicU32::new(0);
static DEST: Mutex<Option<Box<dyn Write + Send>>> = Mutex::new(None);

/// Parse a `--log-output` list into a bit mask. Empty means Delve's default, `debugger`.
pub fn parse_outputs(list: &str) -> Result<u32, LogError> {
    let mut mask = 0;
    for word in list.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        let l = Layer::ALL
            .iter()
            .find(|l| l.name() == word)
            .ok_or_else(|| LogError::UnknownLayer(word.to_string()))?;
        mask |= 1 << *l as u32;
    }
    Ok(if mask == 0 {
        1 << Layer::Debugger as u32
    } else {
        mask
    })
}

/// Configure logging from the three flags, as Delve's `logflags.Setup`. `dest` is a
/// file name or, when all digits, an open file descriptor.
pub fn setup(log: bool, outputs: Option<&str>, dest: Option<&str>) -> Result<(), LogError> {
    if !log {
        if outputs.is_some_and(|o| !o.is_empty()) {
            return Err(LogError::OutputWithoutLog);
        }
        if dest.is_some() {
            return Err(LogError::DestWithoutLog);
        }
        ENABLED.store(0, Ordering::Relaxed);
        return Ok(());
    }
    let mask = parse_outputs(outputs.unwrap_or(""))?;
    let writer: Box<dyn Write + Send> = match dest {
        None => Box::new(std::io::stderr()),
        Some(d) => {
            // A number is a descriptor the caller opened for us (`--log-dest=3`);
            // /proc/self/fd reopens it without unsafe fd ownership games.
            let path = if !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) {
                format!("/proc/self/fd/{d}")
            } else {
                d.to_string()
            };
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| LogError::Dest(d.to_string(), e.to_string()))?;
            Box::new(f)
        }
    };
    if let Ok(mut g) = DEST.lock() {
        *g = Some(writer);
    }
    ENABLED.store(mask, Ordering::Relaxed);
    Ok(())
}

/// Whether `layer` is being logged (cheap: call sites test it before formatting).
#[inline]
pub fn enabled(layer: Layer) -> bool {
    ENABLED.load(Ordering::Relaxed) & (1 << layer as u32) != 0
}

/// Write one line for `layer`: `2026-12-02T16:40:00Z debug layer=rpc MESSAGE`, Delve's
/// text format. Errors writing the log are dropped: a log must never end a session.
pub fn write(layer: Layer, args: fmt::Arguments<'_>) {
    if !enabled(layer) {
        return;
    }
    let line = format!("{} debug layer={} {}\n", utc_now(), layer.tag(), args);
    if let Ok(mut g) = DEST.lock() {
        if let Some(w) = g.as_mut() {
            let _ = w.write_all(line.as_bytes());
            let _ = w.flush();
        }
    }
}

/// Log a line for a layer: `log_at!(Rpc, "<- {}", body)`. Formats nothing when the
/// layer is off.
#[macro_export]
macro_rules! log_at {
    ($layer:ident, $($arg:tt)*) => {
        if $crate::logging::enabled($crate::logging::Layer::$layer) {
            $crate::logging::write($crate::logging::Layer::$layer, format_args!($($arg)*));
        }
    };
}

/// The current time as RFC 3339 UTC (the RPC server's conversion: no date crate).
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    crate::service::rpc2::util::rfc3339(i64::try_from(secs).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_parse_like_delve() {
        assert_eq!(parse_outputs(""), Ok(1));
        assert_eq!(parse_outputs("gdbwire,rpc"), Ok(0b10010));
        assert!(matches!(
            parse_outputs("rpc,bogus"),
            Err(LogError::UnknownLayer(w)) if w == "bogus"
        ));
    }

    #[test]
    fn output_without_log_is_refused() {
        assert_eq!(
            setup(false, Some("rpc"), None),
            Err(LogError::OutputWithoutLog)
        );
    }

    #[test]
    fn utc_timestamp_is_rfc3339() {
        let t = utc_now();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T', "{t}");
        assert!(t.as_str() >= "2024-01-01", "{t}");
    }
}
