//! Servers: front ends that speak other debuggers' protocols over the same engine
//! (the REPL's [`crate::repl::Session`]). They translate requests into the commands
//! the REPL runs and add no debugger logic of their own.

pub mod dap;
pub mod rpc2;

/// Why a server could not start or stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("unsupported API version {0}: only 2 is served")]
    ApiVersion(u32),
}
