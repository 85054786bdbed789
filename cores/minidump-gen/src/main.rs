//! minidump-gen PID OUT.dmp [stacks|datasegs|full]
//!
//! Writes a Linux minidump of the running process PID with the `minidump-writer` crate
//! (the Rust port of Breakpad's writer: ptrace-stops every thread, writes the thread
//! list with contexts, the stacks, the module list, /proc maps, status, auxv, environ,
//! cmdline, then resumes the process).
//!
//! - `stacks`: what the writer saves by default: each thread's stack (from its stack
//!   pointer to the end of that mapping).
//! - `datasegs`: stacks plus the executable's writable mappings (.data, .bss), like
//!   Windows' MiniDumpWithDataSegs: the runtime's globals are there, the heap is not.
//! - `full`: every readable mapping (like MiniDumpWithFullMemory).

use minidump_writer::app_memory::AppMemory;
use minidump_writer::minidump_writer::MinidumpWriterConfig;
use std::process::ExitCode;

struct Map {
    start: usize,
    end: usize,
    perms: String,
    path: String,
}

fn maps(pid: i32) -> Result<Vec<Map>, String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .map_err(|e| format!("cannot read /proc/{pid}/maps: {e}"))?;
    let mut out = Vec::new();
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let (Some(range), Some(perms)) = (it.next(), it.next()) else {
            continue;
        };
        let path = it.nth(3).unwrap_or("").to_string();
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
        else {
            continue;
        };
        out.push(Map {
            start,
            end,
            perms: perms.to_string(),
            path,
        });
    }
    Ok(out)
}

fn extra_memory(pid: i32, mode: &str) -> Result<Vec<AppMemory>, String> {
    let maps = maps(pid)?;
    let mut out = Vec::new();
    match mode {
        "stacks" => {}
        "datasegs" => {
            let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
                .map_err(|e| format!("cannot read /proc/{pid}/exe: {e}"))?;
            let exe = exe.to_string_lossy().into_owned();
            let mut prev_exe_rw = false;
            for m in &maps {
                let rw = m.perms.starts_with("rw");
                let is_exe = m.path == exe;
                // The bss past the file-backed data is the anonymous mapping right after.
                if rw && (is_exe || (prev_exe_rw && m.path.is_empty())) {
                    out.push(AppMemory {
                        ptr: m.start,
                        length: m.end - m.start,
                    });
                    prev_exe_rw = is_exe;
                } else {
                    prev_exe_rw = false;
                }
            }
            if out.is_empty() {
                return Err(format!("no writable mapping of {exe} in /proc/{pid}/maps"));
            }
        }
        "full" => {
            for m in &maps {
                if !m.perms.starts_with('r') || m.path.starts_with("[vvar") || m.path == "[vsyscall]" {
                    continue;
                }
                out.push(AppMemory {
                    ptr: m.start,
                    length: m.end - m.start,
                });
            }
        }
        other => return Err(format!("unknown mode {other:?}: use stacks, datasegs or full")),
    }
    Ok(out)
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(pid), Some(out)) = (args.get(1), args.get(2)) else {
        return Err("usage: minidump-gen PID OUT.dmp [stacks|datasegs|full]".into());
    };
    let mode = args.get(3).map(String::as_str).unwrap_or("stacks");
    let pid: i32 = pid.parse().map_err(|_| format!("bad pid {pid:?}"))?;
    let app = extra_memory(pid, mode)?;
    let mut file =
        std::fs::File::create(out).map_err(|e| format!("cannot create {out}: {e}"))?;
    let mut cfg = MinidumpWriterConfig::new(pid, pid);
    cfg.set_app_memory(app);
    cfg.write(&mut file)
        .map_err(|e| format!("writing the minidump of {pid} failed: {e}"))?;
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("minidump-gen: {e}");
            ExitCode::FAILURE
        }
    }
}
