//! GDB remote serial protocol client: an execution backend over any stub that speaks
//! it (GNU gdbserver, lldb-server, rr, QEMU's gdbstub).
//!
//! Layers, bottom up: [`packet`] (framing, pure), [`conn`] (one socket, timeouts, acks),
//! [`regs`] (register layouts), [`stop`] (stop replies and GDB signal numbers),
//! [`snapshot`] (memory read on demand, page-cached per stop), [`process`] (the
//! [`Process`](crate::backend::Process) impl), [`launch`] (starting gdbserver).
//!
//! Go keeps `g` in thread-local storage addressed through `fs`; the snapshot's
//! `fs_base` comes from the stub's `fs_base` register (target.xml's
//! `org.gnu.gdb.i386.linux`/segments feature, which gdbserver and rr provide), read
//! with `p` when the `g` reply does not reach it. A stub without it gets 0 and a note
//! in [`GdbRemote::notes`]; Delve's alternative (executing `mov rcx, fs:[off]` in the
//! target) belongs above the backend.

pub mod conn;
mod exec;
mod handshake;
pub mod launch;
pub mod packet;
pub mod process;
pub mod regs;
mod rr;
pub mod snapshot;
pub mod stop;

pub use conn::{ConnError, Timeouts};
pub use handshake::Features;
pub use process::GdbRemote;
pub use snapshot::RemoteSnapshot;
