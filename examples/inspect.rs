//! Developer aid: print what the engine sees in a core (crash info, threads with their
//! full stacks). `cargo run --example inspect -- BIN CORE`
use coroner::target::{OpenOptions, Target};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 3 {
        eprintln!("usage: inspect BIN CORE");
        std::process::exit(2);
    }
    let t = match Target::open(&OpenOptions {
        binary: a[1].clone().into(),
        core: a[2].clone().into(),
        force: a.len() > 3,
    }) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("inspect: {e}");
            std::process::exit(1);
        }
    };
    println!("{:#?}", t.crash());
    for w in t.warnings() {
        println!("warning: {w}");
    }
    for th in t.threads() {
        let g = t.thread_goroutine(th.tid).map(|g| g.goid);
        println!("thread {} sig={} g={:?}", th.tid, th.signal, g);
        let st = t.thread_stack(th, 64);
        for f in &st.frames {
            println!(
                "   {:#x} {} {}:{} {:?}{}",
                f.pc.get(),
                f.function,
                f.file,
                f.line,
                f.source,
                if f.inlined { " (inlined)" } else { "" }
            );
        }
        if let Some(e) = st.error {
            println!("   !! {e}");
        }
    }
}
