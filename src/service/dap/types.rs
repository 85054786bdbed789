//! Request arguments, as the DAP specification and Delve's launch configuration name
//! them. Every field has a default so a client may omit what it does not use; a field
//! of the wrong type is a clear error response, never a crash.

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct InitializeArgs {
    #[serde(rename = "clientID")]
    pub client_id: String,
    #[serde(rename = "adapterID")]
    pub adapter_id: String,
    /// The spec's default is "path"; Delve refuses anything else.
    pub path_format: Option<String>,
    pub lines_start_at1: Option<bool>,
    pub columns_start_at1: Option<bool>,
    pub supports_variable_type: bool,
    pub supports_variable_paging: bool,
    pub supports_memory_references: bool,
    pub supports_invalidated_event: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SetVariableArgs {
    pub variables_reference: i64,
    pub name: String,
    pub value: String,
}

/// `launch` (Delve's LaunchConfig) and `attach` (AttachConfig) share these fields.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LaunchArgs {
    /// debug (default), test, exec, core, replay; for attach: local (default), remote.
    pub mode: String,
    pub program: String,
    pub args: Vec<String>,
    pub cwd: String,
    pub core_file_path: String,
    pub trace_dir_path: String,
    pub build_flags: BuildFlags,
    pub output: String,
    pub stop_on_entry: bool,
    pub process_id: i64,
    /// Delve's `showGlobalVariables`: a Globals scope for the frame's package.
    pub show_global_variables: bool,
    /// Delve's `showRegisters`: a Registers scope.
    pub show_registers: bool,
    pub stack_trace_depth: i64,
    pub max_string_len: i64,
    pub max_array_values: i64,
    pub no_debug: bool,
    pub env: std::collections::BTreeMap<String, Option<String>>,
}

/// `buildFlags` is a string in older configurations and a list in newer ones.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(untagged)]
pub enum BuildFlags {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl BuildFlags {
    pub fn words(&self) -> Vec<String> {
        match self {
            BuildFlags::None => Vec::new(),
            BuildFlags::One(s) => s.split_whitespace().map(str::to_string).collect(),
            BuildFlags::Many(v) => v.clone(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DisconnectArgs {
    pub restart: bool,
    pub terminate_debuggee: Option<bool>,
    pub suspend_debuggee: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ThreadArgs {
    pub thread_id: i64,
    pub granularity: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct StackTraceArgs {
    pub thread_id: i64,
    pub start_frame: i64,
    pub levels: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ScopesArgs {
    pub frame_id: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct VariablesArgs {
    pub variables_reference: i64,
    /// "indexed", "named" or absent (both).
    pub filter: String,
    pub start: i64,
    pub count: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EvaluateArgs {
    pub expression: String,
    pub frame_id: Option<i64>,
    pub context: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Source {
    pub name: String,
    pub path: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SourceBreakpoint {
    pub line: i64,
    pub column: i64,
    pub condition: String,
    pub hit_condition: String,
    pub log_message: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SetBreakpointsArgs {
    pub source: Source,
    pub breakpoints: Vec<SourceBreakpoint>,
    /// The deprecated form: lines only.
    pub lines: Vec<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct FunctionBreakpoint {
    pub name: String,
    pub condition: String,
    pub hit_condition: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SetFunctionBreakpointsArgs {
    pub breakpoints: Vec<FunctionBreakpoint>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ExceptionInfoArgs {
    pub thread_id: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ReadMemoryArgs {
    pub memory_reference: String,
    pub offset: i64,
    pub count: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DisassembleArgs {
    pub memory_reference: String,
    pub offset: i64,
    pub instruction_offset: i64,
    pub instruction_count: i64,
    pub resolve_symbols: bool,
}

/// Decode `args` into `T`, with the error text a client can show.
pub fn parse<T: serde::de::DeserializeOwned>(args: &serde_json::Value) -> Result<T, String> {
    serde_json::from_value(args.clone()).map_err(|e| format!("invalid arguments: {e}"))
}
