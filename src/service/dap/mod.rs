//! The Debug Adapter Protocol server (`coroner dap`, and DAP clients of the
//! `--headless` listener): Delve's DAP behaviour over the REPL's session, so editors
//! (VS Code's Go extension, nvim-dap, GoLand) debug cores and live processes.
//!
//! - [`wire`]: `Content-Length` framing and request decoding (fuzzed).
//! - [`types`]: request arguments.
//! - [`session`]: lifecycle and execution requests, stopped/exited events.
//! - [`handlers`]: threads, stackTrace, scopes, variables, evaluate, exceptionInfo, ...
//! - [`breakpoints`]: source and function breakpoints, log points.
//! - [`vars`]: variables and their handles as Delve shows them.
//! - [`convert`]: thread and frame names, exception text.

mod breakpoints;
mod convert;
mod handlers;
mod server;
mod session;
mod setvar;
pub mod types;
mod vars;
pub mod wire;

pub use server::{serve, serve_joined, DapOptions};
pub use session::{Launched, Launcher, Leave};
