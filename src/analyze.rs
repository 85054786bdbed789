//! The analyzer plugin interface. Analyses live in the `coroner-analyzers` crate and are
//! registered by the front end; the engine never depends on them.

use crate::target::Target;

/// The result of one analysis: a human report, the same as Markdown (for an incident
/// ticket), and a machine one. An analyzer's `json` is an object whose top-level keys
/// are merged into the combined triage report (e.g. `{"deadlocks": [...]}`), so keys
/// must be unique across analyzers.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub text: String,
    pub markdown: String,
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
    pub fn names(&self) -> Vec<&'static str> {
        self.analyzers.iter().map(|a| a.name()).collect()
    }

    /// Run every analyzer, in registration order, into one incident report: sections
    /// concatenated, JSON objects merged (a non-object result is kept under the
    /// analyzer's name).
    pub fn triage(&self, target: &Target) -> Report {
        let mut text = String::new();
        let mut markdown = String::from("# Incident report\n\n");
        let mut json = serde_json::Map::new();
        for a in &self.analyzers {
            let r = a.run(target);
            text.push_str(&r.text);
            if !r.text.ends_with('\n') {
                text.push('\n');
            }
            text.push('\n');
            markdown.push_str(&r.markdown);
            if !r.markdown.ends_with('\n') {
                markdown.push('\n');
            }
            markdown.push('\n');
            match r.json {
                serde_json::Value::Object(m) => json.extend(m),
                v => {
                    json.insert(a.name().to_string(), v);
                }
            }
        }
        let warnings: Vec<serde_json::Value> = target
            .warnings()
            .iter()
            .map(|w| serde_json::Value::String(w.clone()))
            .collect();
        json.insert("warnings".into(), serde_json::Value::Array(warnings));
        Report {
            text,
            markdown,
            json: serde_json::Value::Object(json),
        }
    }
}
