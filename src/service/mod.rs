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

/// A client connection (TCP or unix socket) either server can own.
pub trait Stream: std::io::Read + std::io::Write + Send {
    fn try_clone_box(&self) -> std::io::Result<Box<dyn Stream>>;
    /// Unblock a thread reading the other half.
    fn shutdown_both(&self);
    /// The first byte the client sent, left unread (None at EOF): the `--headless`
    /// listener tells DAP (`Content-Length: ...`) from JSON-RPC by it, as Delve does.
    fn peek_first(&self) -> std::io::Result<Option<u8>>;
}

fn peek_fd(fd: std::os::fd::RawFd) -> std::io::Result<Option<u8>> {
    let mut b = [0u8; 1];
    loop {
        // SAFETY: fd is an open socket owned by the caller; b is a valid 1-byte buffer.
        let n = unsafe { libc::recv(fd, b.as_mut_ptr().cast(), 1, libc::MSG_PEEK) };
        if n == 1 {
            return Ok(Some(b[0]));
        }
        if n == 0 {
            return Ok(None);
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

impl Stream for std::net::TcpStream {
    fn try_clone_box(&self) -> std::io::Result<Box<dyn Stream>> {
        Ok(Box::new(self.try_clone()?))
    }
    fn shutdown_both(&self) {
        let _ = self.shutdown(std::net::Shutdown::Both);
    }
    fn peek_first(&self) -> std::io::Result<Option<u8>> {
        peek_fd(std::os::fd::AsRawFd::as_raw_fd(self))
    }
}

impl Stream for std::os::unix::net::UnixStream {
    fn try_clone_box(&self) -> std::io::Result<Box<dyn Stream>> {
        Ok(Box::new(self.try_clone()?))
    }
    fn shutdown_both(&self) {
        let _ = self.shutdown(std::net::Shutdown::Both);
    }
    fn peek_first(&self) -> std::io::Result<Option<u8>> {
        peek_fd(std::os::fd::AsRawFd::as_raw_fd(self))
    }
}
