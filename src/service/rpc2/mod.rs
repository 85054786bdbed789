//! Delve's JSON-RPC v2 headless server (`dlv --headless`): newline-delimited
//! JSON-RPC 1.0 as Go's `net/rpc/jsonrpc`, `RPCServer.*` methods, Delve's API types.

mod bpinfo;
mod convert;
mod methods;
pub mod request;
mod server;
pub mod types;
pub(crate) mod util;
mod vars;

pub use server::{serve, ServerOptions};
// Shared with the DAP server.
pub(crate) use server::same_user;
pub(crate) use util::base64;
