//! `coroner dap`: the Debug Adapter Protocol server for editors. The engine's DAP
//! service calls back here to start targets (it does not know `go build` or how a
//! process is launched), on the thread that will own them.

use crate::live;
use coroner::backend::ptrace::PtraceProcess;
use coroner::backend::Process;
use coroner::exec::Origin;
use coroner::repl::Session;
use coroner::service::dap::types::LaunchArgs;
use coroner::service::dap::{serve, DapOptions, Launched, Launcher};
use coroner::target::{OpenOptions, Target};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug, Clone)]
pub struct DapArgs {
    /// Address to listen on (`HOST:PORT`, port 0 = a free one).
    #[arg(short = 'l', long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub listen: String,
    /// Refuse loopback clients owned by another user.
    #[arg(long, num_args = 0..=1, default_value_t = true, default_missing_value = "true", value_name = "BOOL", action = clap::ArgAction::Set)]
    pub only_same_user: bool,
}

/// Starts what a launch or attach request names.
struct Starter;

fn err(e: anyhow::Error) -> String {
    format!("{e:#}")
}

/// A launch path relative to the configuration's `cwd`.
fn under(cwd: &str, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() || cwd.is_empty() {
        p.to_path_buf()
    } else {
        Path::new(cwd).join(p)
    }
}

impl Launcher for Starter {
    fn launch(
        &mut self,
        a: &LaunchArgs,
        output: &mut dyn FnMut(&str, &str),
    ) -> Result<Launched, String> {
        if a.mode == "core" {
            let t = Target::open(&OpenOptions {
                binary: under(&a.cwd, &a.program),
                core: under(&a.cwd, &a.core_file_path),
                force: false,
            })
            .map_err(|e| e.to_string())?;
            let mut s = Session::new(t);
            s.set_analyzers(coroner_analyzers::registry());
            return Ok(Launched {
                session: s,
                guard: None,
            });
        }
        if a.mode == "replay" {
            if a.trace_dir_path.is_empty() {
                return Err(
                    "The 'traceDirPath' attribute is missing in debug configuration.".into(),
                );
            }
            let bin = (!a.program.is_empty()).then(|| under(&a.cwd, &a.program));
            let (mut s, child, _) = crate::replay::replay_target(
                &under(&a.cwd, &a.trace_dir_path),
                None,
                bin.as_deref(),
            )
            .map_err(err)?;
            s.set_analyzers(coroner_analyzers::registry());
            return Ok(Launched {
                session: s,
                guard: Some(Box::new(child)),
            });
        }
        for (k, v) in &a.env {
            match v {
                Some(v) => std::env::set_var(k, v),
                None => std::env::remove_var(k),
            }
        }
        let wd = (!a.cwd.is_empty()).then(|| PathBuf::from(&a.cwd));
        let (guard, binary): (Option<Box<dyn std::any::Any>>, PathBuf) = match a.mode.as_str() {
            "debug" | "test" => {
                let test = a.mode == "test";
                let what = if test { "tests of " } else { "" };
                output("stdout", &format!("Building {what}{}\n", a.program));
                let flags = a.build_flags.words().join(" ");
                let (dir, bin) = live::build(
                    Some(&a.program),
                    (!flags.is_empty()).then_some(flags.as_str()),
                    test,
                    wd.as_deref(),
                )
                .map_err(|e| {
                    output("stderr", &format!("Build Error: {e:#}\n"));
                    "Build error: Check the debug console for details.".to_string()
                })?;
                (Some(Box::new(dir)), bin)
            }
            _ => (None, under(&a.cwd, &a.program)),
        };
        let e = live::ExecOptions {
            wd,
            disable_aslr: false,
            redirects: Vec::new(),
        };
        let mut lo = live::launch_options(&binary, &a.args, &e).map_err(err)?;
        let proc = PtraceProcess::launch(&lo).map_err(|e| e.to_string())?;
        let mut d = live::start(proc, &binary, Origin::Launched).map_err(err)?;
        d.set_relauncher(Box::new(move |args| {
            if let Some(a) = args {
                lo.args = a.iter().map(Into::into).collect();
            }
            PtraceProcess::launch(&lo).map(|p| Box::new(p) as Box<dyn Process>)
        }));
        let mut s = Session::with_debugger(d);
        s.set_analyzers(coroner_analyzers::registry());
        Ok(Launched { session: s, guard })
    }

    fn attach(&mut self, pid: u32) -> Result<Launched, String> {
        let exe = PathBuf::from(format!("/proc/{pid}/exe"));
        let proc = PtraceProcess::attach(pid).map_err(|e| e.to_string())?;
        let d = live::start(proc, &exe, Origin::Attached).map_err(err)?;
        let mut s = Session::with_debugger(d);
        s.set_analyzers(coroner_analyzers::registry());
        Ok(Launched {
            session: s,
            guard: None,
        })
    }
}

pub fn run(a: DapArgs) -> anyhow::Result<()> {
    live::install_signal_handling()?;
    let opts = DapOptions {
        listen: a.listen,
        only_same_user: a.only_same_user,
    };
    serve(&opts, &mut Starter)?;
    Ok(())
}
