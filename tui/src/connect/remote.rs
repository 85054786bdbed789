//! The server's stopped target as a local snapshot, for the browser: its threads'
//! registers from `ListRegisters`, its memory from `ExamineMemory`, read on demand in
//! pages and cached for the stop. With the binary read here, coroner's own engine
//! (goroutines, stacks, variables, analyzers) runs on what the server sees, against a
//! coroner server and a Delve server alike.

use super::client::Client;
use super::data::decode_base64;
use coroner::addr::Addr;
use coroner::snapshot::{
    MappedFile, MemError, Memory, ProcessInfo, Registers, SignalInfo, Snapshot, Thread,
};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// The read granularity (and the cache's unit).
const PAGE: u64 = 4096;
/// Pages asked for in one ExamineMemory call when several are missing in a row; a
/// failed batch is read again page by page, so one unmapped page costs only itself.
const BATCH_PAGES: u64 = 16;

/// One connection for the REPL and the snapshot (a single-client server accepts no
/// second one).
#[derive(Clone)]
pub struct SharedClient(Arc<Mutex<Client>>);

impl SharedClient {
    pub fn new(c: Client) -> SharedClient {
        SharedClient(Arc::new(Mutex::new(c)))
    }
    pub fn lock(&self) -> MutexGuard<'_, Client> {
        // A call completes or fails whole, so a panic elsewhere leaves no half request.
        match self.0.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
    pub fn call(&self, method: &str, arg: serde_json::Value) -> Result<serde_json::Value, String> {
        self.lock().call(method, arg)
    }
}

pub struct RemoteSnapshot {
    client: SharedClient,
    threads: Vec<Thread>,
    process: Option<ProcessInfo>,
    /// Page address → its bytes, or None when the server could not read it.
    pages: Mutex<HashMap<u64, Option<Arc<[u8]>>>>,
    addr: String,
}

/// The number a register row starts with (`0x0000000000401000`, or Rflags'
/// `0x246\t[ZF PF]`).
fn register_value(text: &str) -> Option<u64> {
    let word = text.split_whitespace().next()?;
    let hex = word.strip_prefix("0x")?;
    u64::from_str_radix(hex, 16).ok()
}

impl RemoteSnapshot {
    /// The server's threads and their registers now.
    pub fn read(client: SharedClient, addr: &str) -> Result<RemoteSnapshot, String> {
        let r = client.call("ListThreads", json!({}))?;
        let mut threads = Vec::new();
        for t in r["Threads"].as_array().into_iter().flatten() {
            let Some(tid) = t["id"].as_i64().and_then(|i| u32::try_from(i).ok()) else {
                continue;
            };
            let rows = client.call(
                "ListRegisters",
                json!({"ThreadID": tid, "IncludeFp": false}),
            )?;
            let mut regs = Registers::default();
            for row in rows["Regs"].as_array().into_iter().flatten() {
                let name = row["Name"].as_str().unwrap_or("");
                // Delve names them `Rip`, `Rflags`, `Fs_base`.
                let slot = regs.by_name_mut(&name.to_ascii_lowercase());
                if let (Some(slot), Some(v)) =
                    (slot, row["Value"].as_str().and_then(register_value))
                {
                    *slot = v;
                }
            }
            if regs.rip == 0 {
                // The thread list's PC when the server sent no register rows for it.
                regs.rip = t["pc"].as_u64().unwrap_or(0);
            }
            threads.push(Thread {
                tid,
                regs,
                signal: 0,
                arm64: None,
                g_slots: Vec::new(),
            });
        }
        if threads.is_empty() {
            return Err("the server lists no threads".into());
        }
        let pid = client
            .call("ProcessPid", json!({}))
            .ok()
            .and_then(|r| r["Pid"].as_i64())
            .and_then(|p| i32::try_from(p).ok())
            .filter(|p| *p > 0);
        Ok(RemoteSnapshot {
            client,
            threads,
            process: pid.map(|pid| ProcessInfo {
                pid,
                name: String::new(),
                args: String::new(),
            }),
            pages: Mutex::new(HashMap::new()),
            addr: addr.to_string(),
        })
    }

    fn cache(&self) -> MutexGuard<'_, HashMap<u64, Option<Arc<[u8]>>>> {
        match self.pages.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Bytes at `addr` from the server, or None.
    fn fetch(&self, addr: u64, len: u64) -> Option<Vec<u8>> {
        let r = self
            .client
            .call("ExamineMemory", json!({"Address": addr, "Length": len}))
            .ok()?;
        let mem = decode_base64(r["Mem"].as_str()?)?;
        (mem.len() as u64 == len).then_some(mem)
    }

    /// Page `p`, fetching it (and the missing pages after it, in one call) if needed.
    fn page(&self, p: u64) -> Option<Arc<[u8]>> {
        if let Some(hit) = self.cache().get(&p) {
            return hit.clone();
        }
        let run = {
            let cache = self.cache();
            (1..BATCH_PAGES)
                .take_while(|k| !cache.contains_key(&(p + k * PAGE)))
                .count() as u64
                + 1
        };
        if run > 1 {
            if let Some(bytes) = self.fetch(p, run * PAGE) {
                let mut cache = self.cache();
                for (k, chunk) in bytes.chunks(PAGE as usize).enumerate() {
                    cache.insert(p + k as u64 * PAGE, Some(Arc::from(chunk)));
                }
                return cache.get(&p).cloned().flatten();
            }
        }
        let one: Option<Arc<[u8]>> = self.fetch(p, PAGE).map(Arc::from);
        self.cache().insert(p, one.clone());
        one
    }
}

impl Memory for RemoteSnapshot {
    fn read(&self, addr: Addr, buf: &mut [u8]) -> Result<(), MemError> {
        let mut done = 0usize;
        while done < buf.len() {
            let a = addr.0.wrapping_add(done as u64);
            let p = a & !(PAGE - 1);
            let page = self.page(p).ok_or(MemError::Unmapped(Addr(a)))?;
            let off = (a - p) as usize;
            let n = (page.len() - off).min(buf.len() - done);
            buf[done..done + n].copy_from_slice(&page[off..off + n]);
            done += n;
        }
        Ok(())
    }
}

impl Snapshot for RemoteSnapshot {
    fn threads(&self) -> &[Thread] {
        &self.threads
    }
    fn mapped_files(&self) -> &[MappedFile] {
        &[]
    }
    fn auxv(&self) -> &[(u64, u64)] {
        &[]
    }
    fn signal(&self) -> Option<&SignalInfo> {
        None
    }
    fn process(&self) -> Option<&ProcessInfo> {
        self.process.as_ref()
    }
    fn regions(&self) -> Vec<(Addr, Addr)> {
        // Delve's API has no memory map.
        Vec::new()
    }
    fn describe(&self) -> String {
        format!("the target of the server at {}", self.addr)
    }
    fn kind(&self) -> &'static str {
        "remote target"
    }
}

#[cfg(test)]
mod tests {
    use super::register_value;

    #[test]
    fn register_rows_as_servers_write_them() {
        assert_eq!(register_value("0x0000000000401000"), Some(0x401000));
        assert_eq!(register_value("0x246\t[PF ZF IF IOPL=0]"), Some(0x246));
        assert_eq!(register_value("[PF]"), None);
        assert_eq!(register_value(""), None);
    }
}
