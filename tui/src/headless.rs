//! `--headless` and its companions (Delve's flag names): serve the session over
//! Delve's JSON-RPC v2 instead of running a REPL on stdin.

use coroner::repl::Session;
use coroner::service::rpc2::{serve, ServerOptions};

#[derive(clap::Args, Debug, Clone)]
pub struct HeadlessArgs {
    /// Run as a JSON-RPC v2 server for `dlv connect` and scripts (no REPL).
    #[arg(long)]
    pub headless: bool,
    /// Address to listen on (`HOST:PORT`, port 0 = a free one; `unix:PATH`).
    #[arg(short = 'l', long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub listen: String,
    /// Keep serving (and keep the target) after a client disconnects.
    #[arg(long)]
    pub accept_multiclient: bool,
    /// Only API version 2 is served; accepted for Delve compatibility.
    #[arg(long, default_value_t = 2)]
    pub api_version: u32,
    /// Refuse loopback clients owned by another user.
    #[arg(long, num_args = 0..=1, default_value_t = true, default_missing_value = "true", value_name = "BOOL", action = clap::ArgAction::Set)]
    pub only_same_user: bool,
    /// Resume the target as the server starts (needs --accept-multiclient).
    #[arg(long = "continue")]
    pub continue_on_start: bool,
}

impl HeadlessArgs {
    /// The server options, or None when not headless.
    pub fn options(&self) -> anyhow::Result<Option<ServerOptions>> {
        if !self.headless {
            return Ok(None);
        }
        if self.api_version != 2 {
            anyhow::bail!(
                "unsupported API version {}: only 2 is served",
                self.api_version
            );
        }
        if self.continue_on_start && !self.accept_multiclient {
            anyhow::bail!("--continue requires --accept-multiclient");
        }
        Ok(Some(ServerOptions {
            listen: self.listen.clone(),
            accept_multiclient: self.accept_multiclient,
            only_same_user: self.only_same_user,
            continue_on_start: self.continue_on_start,
        }))
    }
}

pub fn run(session: Session, opts: &ServerOptions) -> anyhow::Result<()> {
    serve(session, opts)?;
    Ok(())
}
