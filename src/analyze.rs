//! The analyzer plugin interface. Analyses live in the `coroner-analyzers` crate and are
//! registered by the front end; the engine never depends on them.

use crate::target::Target;

/// The result of one analysis: a human report and a machine one.
pub struct Report {
    pub text: String,
    pub json: serde_json::Value,
}

pub trait Analyzer: Send + Sync {
    /// Short name, used by `analyze NAME`.
    fn name(&self) -> &'static str;
    fn description(&self) -> &'static str;
    fn run(&self, target: &Target) -> Report;
}

/// Analyzers known to a front end.
#[derive(Default)]
pub struct Registry {
    analyzers: Vec<Box<dyn Analyzer>>,
}

impl Registry {
    pub fn register(&mut self, a: Box<dyn Analyzer>) {
        self.analyzers.push(a);
    }
    pub fn all(&self) -> &[Box<dyn Analyzer>] {
        &self.analyzers
    }
    pub fn get(&self, name: &str) -> Option<&dyn Analyzer> {
        self.analyzers
            .iter()
            .find(|a| a.name() == name)
            .map(|a| a.as_ref())
    }
}
