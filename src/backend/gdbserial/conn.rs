//! One TCP connection to a stub: send a packet, read the reply, every wait bounded.
//!
//! Reads happen on the tracer thread (or a rayon thread holding the connection lock);
//! writes go through a separately locked clone of the socket so that the interrupter
//! can send `\x03` while the tracer thread is blocked reading a stop reply.

use super::packet::{frame, Decoder, Frame};
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, thiserror::Error)]
pub enum ConnError {
    #[error("the stub closed the connection{0}")]
    HungUp(String),
    #[error("no reply to {what} within {secs:.1}s")]
    Timeout { what: String, secs: f64 },
    #[error("{0}")]
    Io(String),
    #[error("garbled reply: {0}")]
    Protocol(String),
}

/// Timeouts for the waits a connection does.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Connecting to the stub.
    pub connect: Duration,
    /// Any request that the stub answers at once (registers, memory, breakpoints).
    pub request: Duration,
    /// Waiting for a stop after continue. Long, because the program may run for hours;
    /// an interrupt cuts it short and a hang-up is noticed at once anyway.
    pub resume: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(10),
            resume: Duration::from_secs(24 * 3600),
        }
    }
}

/// The write half, shared with the interrupter.
pub type Writer = Arc<Mutex<TcpStream>>;

pub struct Conn {
    read: TcpStream,
    write: Writer,
    dec: Decoder,
    /// Acks are exchanged until `QStartNoAckMode` succeeds.
    ack: bool,
    pub timeouts: Timeouts,
    /// Packets sent (the benchmark prints it; a remote round trip is the unit of cost).
    packets: Arc<AtomicU64>,
    /// Once the stub hung up or garbled the stream, every later call fails with this
    /// without touching the socket again (so nothing waits on a dead peer twice).
    dead: Option<ConnError>,
    /// `O` console output packets received while waiting for a stop.
    pub console: Vec<u8>,
    /// A reply that arrived in place of the ack for its request.
    stash: Option<Vec<u8>>,
    /// `CORONER_RSP_TRACE=1`: log every packet to stderr (protocol debugging).
    trace: bool,
}

impl Conn {
    pub fn connect(addr: &str, timeouts: Timeouts) -> Result<Conn, ConnError> {
        let addrs: Vec<_> = addr
            .to_socket_addrs()
            .map_err(|e| ConnError::Io(format!("cannot resolve {addr}: {e}")))?
            .collect();
        let mut last = ConnError::Io(format!("no address for {addr}"));
        for a in addrs {
            match TcpStream::connect_timeout(&a, timeouts.connect) {
                Ok(s) => return Conn::from_stream(s, timeouts),
                Err(e) => last = ConnError::Io(format!("cannot connect to {a}: {e}")),
            }
        }
        Err(last)
    }

    pub fn from_stream(s: TcpStream, timeouts: Timeouts) -> Result<Conn, ConnError> {
        // Small packets, one at a time, each awaited: Nagle would add 40 ms per packet.
        let _ = s.set_nodelay(true);
        let write = s
            .try_clone()
            .map_err(|e| ConnError::Io(format!("cannot clone socket: {e}")))?;
        Ok(Conn {
            read: s,
            write: Arc::new(Mutex::new(write)),
            dec: Decoder::new(),
            ack: true,
            timeouts,
            packets: Arc::new(AtomicU64::new(0)),
            dead: None,
            console: Vec::new(),
            stash: None,
            trace: std::env::var_os("CORONER_RSP_TRACE").is_some(),
        })
    }

    pub fn writer(&self) -> Writer {
        self.write.clone()
    }
    pub fn packet_counter(&self) -> Arc<AtomicU64> {
        self.packets.clone()
    }
    pub fn set_no_ack(&mut self) {
        self.ack = false;
    }
    pub fn is_dead(&self) -> Option<&ConnError> {
        self.dead.as_ref()
    }

    fn fail(&mut self, e: ConnError) -> ConnError {
        if !matches!(e, ConnError::Timeout { .. }) {
            self.dead = Some(e.clone());
        }
        e
    }

    pub fn write_raw(&mut self, bytes: &[u8]) -> Result<(), ConnError> {
        if let Some(e) = &self.dead {
            return Err(e.clone());
        }
        let r = match self.write.lock() {
            Ok(mut w) => w.write_all(bytes),
            Err(p) => p.into_inner().write_all(bytes),
        };
        r.map_err(|e| self.fail(io_error(e)))
    }

    /// Send one packet (and, in ack mode, wait for its `+`, resending on `-`).
    pub fn send(&mut self, body: &[u8]) -> Result<(), ConnError> {
        let pkt = frame(body);
        self.packets.fetch_add(1, Ordering::Relaxed);
        if self.trace {
            eprintln!("rsp {:?} -> {}", trace_clock(), describe_long(body));
        }
        crate::log_at!(GdbWire, "-> ${}", describe_long(body));
        self.write_raw(&pkt)?;
        if !self.ack {
            return Ok(());
        }
        let deadline = Instant::now() + self.timeouts.request;
        let mut resends = 0;
        loop {
            match self.read_frame(deadline, self.timeouts.request, body)? {
                Frame::Ack => return Ok(()),
                Frame::Nack if resends < 3 => {
                    resends += 1;
                    self.write_raw(&pkt)?;
                }
                Frame::Nack => {
                    return Err(self.fail(ConnError::Protocol(format!(
                        "stub refused {} three times",
                        describe(body)
                    ))))
                }
                // Some stubs answer without acking first; keep the packet for recv.
                Frame::Packet(p) => {
                    self.stash = Some(p);
                    return Ok(());
                }
                _ => {}
            }
        }
    }

    /// Send a request and return its reply.
    ///
    /// A request that times out kills the connection: a late reply would otherwise
    /// be taken for the answer to the next request.
    pub fn request(&mut self, body: &[u8]) -> Result<Vec<u8>, ConnError> {
        let t = self.timeouts.request;
        let r = self.send(body).and_then(|()| self.recv(t, body));
        if let Err(e @ ConnError::Timeout { .. }) = &r {
            self.dead = Some(e.clone());
        }
        r
    }

    /// The next packet from the stub (acks, notifications and garbage skipped).
    /// `what` names the request in error messages.
    pub fn recv(&mut self, timeout: Duration, what: &[u8]) -> Result<Vec<u8>, ConnError> {
        if let Some(p) = self.stash.take() {
            crate::log_at!(GdbWire, "<- ${}", describe_long(&p));
            return Ok(p);
        }
        let deadline = Instant::now() + timeout;
        loop {
            match self.read_frame(deadline, timeout, what)? {
                Frame::Packet(p) => {
                    if self.trace {
                        eprintln!("rsp {:?} <- {}", trace_clock(), describe_long(&p));
                    }
                    crate::log_at!(GdbWire, "<- ${}", describe_long(&p));
                    if self.ack {
                        self.write_raw(b"+")?;
                    }
                    // Console output from the stub's `monitor` or the inferior.
                    if p.first() == Some(&b'O') && p.len() > 1 && p != b"OK" {
                        if let Some(text) = super::packet::hex_decode(&p[1..]) {
                            self.console.extend_from_slice(&text);
                            continue;
                        }
                    }
                    return Ok(p);
                }
                Frame::Corrupt(why) => {
                    if self.ack {
                        self.write_raw(b"-")?;
                        continue;
                    }
                    return Err(self.fail(ConnError::Protocol(why)));
                }
                // `%Stop` notifications only come in non-stop mode, which we never
                // enable; anything else here is noise.
                Frame::Notification(_) | Frame::Ack | Frame::Nack | Frame::Garbage(_) => {}
            }
        }
    }

    fn read_frame(
        &mut self,
        deadline: Instant,
        total: Duration,
        what: &[u8],
    ) -> Result<Frame, ConnError> {
        let mut buf = [0u8; 64 * 1024];
        loop {
            if let Some(f) = self.dec.next_frame() {
                return Ok(f);
            }
            if let Some(e) = &self.dead {
                return Err(e.clone());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(ConnError::Timeout {
                    what: describe(what),
                    secs: total.as_secs_f64(),
                });
            }
            // Wake at least every second so an overlong deadline is still checked.
            let wait = (deadline - now).min(Duration::from_secs(1));
            let _ = self
                .read
                .set_read_timeout(Some(wait.max(Duration::from_millis(1))));
            match self.read.read(&mut buf) {
                Ok(0) => {
                    let pending = self.dec.pending();
                    let why = if pending > 0 {
                        format!(
                            " while sending a reply to {} ({pending} bytes)",
                            describe(what)
                        )
                    } else {
                        format!(" (waiting for the reply to {})", describe(what))
                    };
                    return Err(self.fail(ConnError::HungUp(why)));
                }
                Ok(n) => self.dec.push(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(self.fail(io_error(e))),
            }
        }
    }
}

fn io_error(e: std::io::Error) -> ConnError {
    match e.kind() {
        ErrorKind::ConnectionReset | ErrorKind::BrokenPipe | ErrorKind::ConnectionAborted => {
            ConnError::HungUp(format!(" ({e})"))
        }
        _ => ConnError::Io(e.to_string()),
    }
}

fn describe_long(body: &[u8]) -> String {
    let n = body.len().min(200);
    String::from_utf8_lossy(&body[..n])
        .escape_debug()
        .to_string()
}

/// A packet named for an error message: its first bytes, printable.
pub fn describe(body: &[u8]) -> String {
    let n = body.len().min(40);
    let mut s: String = body[..n]
        .iter()
        .map(|&b| if b.is_ascii_graphic() { b as char } else { '.' })
        .collect();
    if body.len() > n {
        s.push('…');
    }
    format!("'{s}'")
}

/// Time since the first traced packet, for `CORONER_RSP_TRACE` (where a session's
/// time goes: the stub or coroner).
fn trace_clock() -> Duration {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}
