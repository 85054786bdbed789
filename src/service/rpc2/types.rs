//! Delve's API types (`service/api/types.go`, `service/rpc2/server.go`) with their
//! exact JSON field names: the Go client decodes by these names, so a renamed field is
//! silently zero on the other side. Input structs default every field, as Go's decoder
//! leaves absent fields at their zero value.

use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// Go encodes nil slices and maps as `null`; read that as empty.
fn null_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `api.Function`. `type` and `goType` are DWARF/runtime details no client prints.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Function {
    pub name: String,
    pub value: u64,
    #[serde(rename = "type")]
    pub ty: u8,
    #[serde(rename = "goType")]
    pub go_type: u64,
    pub optimized: bool,
}

/// `api.Location`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Location {
    pub pc: u64,
    pub file: String,
    pub line: i64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub function: Option<Function>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        default,
        deserialize_with = "null_default"
    )]
    pub pcs: Vec<u64>,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        default,
        deserialize_with = "null_default"
    )]
    pub pcpids: Vec<i64>,
}

/// `api.Variable`. `kind` is Go's reflect.Kind number.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Variable {
    pub name: String,
    pub addr: u64,
    #[serde(rename = "onlyAddr")]
    pub only_addr: bool,
    #[serde(rename = "type")]
    pub ty: String,
    #[serde(rename = "realType")]
    pub real_type: String,
    pub flags: u16,
    pub kind: u8,
    pub value: String,
    /// Go marshals a nil []byte as null; base64 text otherwise.
    #[serde(rename = "StringValueBytes")]
    pub string_value_bytes: Option<String>,
    pub len: i64,
    pub cap: i64,
    pub children: Vec<Variable>,
    pub base: u64,
    pub unreadable: String,
    #[serde(rename = "LocationExpr")]
    pub location_expr: String,
    #[serde(rename = "DeclLine")]
    pub decl_line: i64,
}

/// `api.Stackframe`: Location flattened (Go embeds it).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stackframe {
    #[serde(flatten)]
    pub loc: Location,
    #[serde(rename = "Locals")]
    pub locals: Option<Vec<Variable>>,
    #[serde(rename = "Arguments")]
    pub arguments: Option<Vec<Variable>>,
    #[serde(rename = "FrameOffset")]
    pub frame_offset: i64,
    #[serde(rename = "FramePointerOffset")]
    pub frame_pointer_offset: i64,
    #[serde(rename = "Defers")]
    pub defers: Option<Vec<serde_json::Value>>,
    #[serde(rename = "Bottom", skip_serializing_if = "std::ops::Not::not")]
    pub bottom: bool,
    #[serde(rename = "Err")]
    pub err: String,
}

/// `api.Goroutine`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Goroutine {
    pub id: i64,
    #[serde(rename = "currentLoc")]
    pub current_loc: Location,
    #[serde(rename = "userCurrentLoc")]
    pub user_current_loc: Location,
    #[serde(rename = "goStatementLoc")]
    pub go_statement_loc: Location,
    #[serde(rename = "startLoc")]
    pub start_loc: Location,
    #[serde(rename = "threadID")]
    pub thread_id: i64,
    pub status: u64,
    #[serde(rename = "waitSince")]
    pub wait_since: i64,
    #[serde(rename = "waitReason")]
    pub wait_reason: i64,
    pub unreadable: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// `api.Thread`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Thread {
    pub id: i64,
    pub pc: u64,
    pub file: String,
    pub line: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<Function>,
    #[serde(rename = "goroutineID")]
    pub goroutine_id: i64,
    #[serde(rename = "breakPoint", skip_serializing_if = "Option::is_none")]
    pub breakpoint: Option<Breakpoint>,
    #[serde(rename = "breakPointInfo", skip_serializing_if = "Option::is_none")]
    pub breakpoint_info: Option<BreakpointInfo>,
    #[serde(rename = "ReturnValues")]
    pub return_values: Option<Vec<Variable>>,
    #[serde(rename = "CallReturn")]
    pub call_return: bool,
}

/// What a breakpoint collected at its hit (Delve's `api.BreakpointInfo`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct BreakpointInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stacktrace: Option<Vec<Stackframe>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goroutine: Option<Goroutine>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variables: Option<Vec<Variable>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Vec<Variable>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locals: Option<Vec<Variable>>,
}

/// `api.DebuggerState`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DebuggerState {
    #[serde(rename = "Pid")]
    pub pid: i64,
    #[serde(rename = "TargetCommandLine")]
    pub target_command_line: String,
    #[serde(rename = "Running")]
    pub running: bool,
    #[serde(rename = "Recording")]
    pub recording: bool,
    #[serde(rename = "CoreDumping")]
    pub core_dumping: bool,
    #[serde(rename = "currentThread", skip_serializing_if = "Option::is_none")]
    pub current_thread: Option<Thread>,
    #[serde(rename = "currentGoroutine", skip_serializing_if = "Option::is_none")]
    pub current_goroutine: Option<Goroutine>,
    #[serde(rename = "Threads")]
    pub threads: Option<Vec<Thread>>,
    #[serde(rename = "NextInProgress")]
    pub next_in_progress: bool,
    #[serde(rename = "WatchOutOfScope")]
    pub watch_out_of_scope: Option<Vec<Breakpoint>>,
    pub exited: bool,
    #[serde(rename = "exitStatus")]
    pub exit_status: i64,
    #[serde(rename = "When")]
    pub when: String,
    #[serde(rename = "stopReason", skip_serializing_if = "String::is_empty")]
    pub stop_reason: String,
}

/// `api.LoadConfig`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LoadConfig {
    #[serde(rename = "FollowPointers")]
    pub follow_pointers: bool,
    #[serde(rename = "MaxVariableRecurse")]
    pub max_variable_recurse: i64,
    #[serde(rename = "MaxStringLen")]
    pub max_string_len: i64,
    #[serde(rename = "MaxArrayValues")]
    pub max_array_values: i64,
    #[serde(rename = "MaxStructFields")]
    pub max_struct_fields: i64,
}

/// `api.EvalScope`. GoroutineID -1 means the selected goroutine.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EvalScope {
    #[serde(rename = "GoroutineID")]
    pub goroutine_id: i64,
    #[serde(rename = "Frame")]
    pub frame: i64,
    #[serde(rename = "DeferredCall")]
    pub deferred_call: i64,
}

/// `api.Breakpoint`. Clients send it back in AmendBreakpoint, so it deserializes too.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Breakpoint {
    pub id: i64,
    pub name: String,
    pub addr: u64,
    #[serde(deserialize_with = "null_default")]
    pub addrs: Vec<u64>,
    #[serde(deserialize_with = "null_default")]
    pub addrpid: Vec<i64>,
    pub file: String,
    pub line: i64,
    #[serde(rename = "functionName", skip_serializing_if = "String::is_empty")]
    pub function_name: String,
    #[serde(rename = "ExprString")]
    pub expr_string: String,
    #[serde(rename = "Cond")]
    pub cond: String,
    #[serde(rename = "HitCond")]
    pub hit_cond: String,
    #[serde(rename = "HitCondPerG")]
    pub hit_cond_per_g: bool,
    #[serde(rename = "continue")]
    pub tracepoint: bool,
    #[serde(rename = "traceReturn")]
    pub trace_return: bool,
    pub goroutine: bool,
    pub stacktrace: i64,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub variables: Vec<String>,
    #[serde(rename = "LoadArgs")]
    pub load_args: Option<LoadConfig>,
    #[serde(rename = "LoadLocals")]
    pub load_locals: Option<LoadConfig>,
    #[serde(rename = "WatchExpr")]
    pub watch_expr: String,
    #[serde(rename = "WatchType")]
    pub watch_type: i64,
    #[serde(rename = "hitCount", deserialize_with = "null_default")]
    pub hit_count: BTreeMap<String, u64>,
    #[serde(rename = "totalHitCount")]
    pub total_hit_count: u64,
    pub disabled: bool,
}

/// `api.Register`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Register {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Value")]
    pub value: String,
    #[serde(rename = "DwarfNumber")]
    pub dwarf_number: i64,
}

/// `api.AsmInstruction`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AsmInstruction {
    #[serde(rename = "Loc")]
    pub loc: Location,
    #[serde(rename = "DestLoc")]
    pub dest_loc: Option<Location>,
    #[serde(rename = "Text")]
    pub text: String,
    #[serde(rename = "Bytes")]
    pub bytes: String,
    #[serde(rename = "Breakpoint")]
    pub breakpoint: bool,
    #[serde(rename = "AtPC")]
    pub at_pc: bool,
}

/// `api.GoroutineGroup`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GoroutineGroup {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Offset")]
    pub offset: i64,
    #[serde(rename = "Count")]
    pub count: i64,
    #[serde(rename = "Total")]
    pub total: i64,
}

/// `api.ListGoroutinesFilter`. Kind is api.GoroutineField (0 none, 1 current loc,
/// 2 user loc, 3 go loc, 4 start loc, 5 label, 6 running, 7 user, 8 waiting on chan).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct GoroutineFilter {
    #[serde(rename = "Kind")]
    pub kind: i64,
    #[serde(rename = "Negated")]
    pub negated: bool,
    #[serde(rename = "Arg")]
    pub arg: String,
}

/// `api.DebuggerCommand`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DebuggerCommand {
    pub name: String,
    #[serde(rename = "threadID")]
    pub thread_id: i64,
    #[serde(rename = "goroutineID")]
    pub goroutine_id: i64,
    pub expr: String,
    #[serde(rename = "unsafeCall")]
    pub unsafe_call: bool,
    /// The client drains `GetEvents` alongside this command (Delve 1.2x clients).
    #[serde(rename = "WithEvents")]
    pub with_events: bool,
}

// ----- request (In) structs that carry fields -----

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SetApiVersionIn {
    #[serde(rename = "APIVersion")]
    pub api_version: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StateIn {
    #[serde(rename = "NonBlocking")]
    pub non_blocking: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DetachIn {
    #[serde(rename = "Kill")]
    pub kill: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListGoroutinesIn {
    #[serde(rename = "Start")]
    pub start: i64,
    #[serde(rename = "Count")]
    pub count: i64,
    #[serde(rename = "Filters")]
    pub filters: Option<Vec<GoroutineFilter>>,
    /// api.GoroutineGroupingOptions, embedded: 0 none, 1 current loc, 2 user loc,
    /// 3 go loc, 4 start loc, 5 label.
    #[serde(rename = "GroupBy")]
    pub group_by: i64,
    #[serde(rename = "GroupByKey")]
    pub group_by_key: String,
    #[serde(rename = "MaxGroupMembers")]
    pub max_group_members: i64,
    #[serde(rename = "MaxGroups")]
    pub max_groups: i64,
    /// Where a channel filter's expression is evaluated.
    #[serde(rename = "EvalScope")]
    pub eval_scope: Option<EvalScope>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StacktraceIn {
    #[serde(rename = "Id")]
    pub id: i64,
    #[serde(rename = "Depth")]
    pub depth: i64,
    #[serde(rename = "Full")]
    pub full: bool,
    #[serde(rename = "Cfg")]
    pub cfg: Option<LoadConfig>,
    #[serde(rename = "Skip")]
    pub skip: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CreateWatchpointIn {
    #[serde(rename = "Scope")]
    pub scope: EvalScope,
    #[serde(rename = "Expr")]
    pub expr: String,
    #[serde(rename = "Type")]
    pub ty: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SetIn {
    #[serde(rename = "Scope")]
    pub scope: EvalScope,
    #[serde(rename = "Symbol")]
    pub symbol: String,
    #[serde(rename = "Value")]
    pub value: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EvalIn {
    #[serde(rename = "Scope")]
    pub scope: EvalScope,
    #[serde(rename = "Expr")]
    pub expr: String,
    #[serde(rename = "Cfg")]
    pub cfg: Option<LoadConfig>,
}

/// ListLocalVars and ListFunctionArgs.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ScopedVarsIn {
    #[serde(rename = "Scope")]
    pub scope: EvalScope,
    #[serde(rename = "Cfg")]
    pub cfg: LoadConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct FilterIn {
    #[serde(rename = "Filter")]
    pub filter: String,
    #[serde(rename = "Cfg")]
    pub cfg: LoadConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListRegistersIn {
    #[serde(rename = "ThreadID")]
    pub thread_id: i64,
    #[serde(rename = "IncludeFp")]
    pub include_fp: bool,
    #[serde(rename = "Scope")]
    pub scope: Option<EvalScope>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct FindLocationIn {
    #[serde(rename = "Scope")]
    pub scope: EvalScope,
    #[serde(rename = "Loc")]
    pub loc: String,
    #[serde(rename = "IncludeNonExecutableLines")]
    pub include_non_executable_lines: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CreateBreakpointIn {
    #[serde(rename = "Breakpoint")]
    pub breakpoint: Breakpoint,
    #[serde(rename = "LocExpr")]
    pub loc_expr: String,
}

/// ClearBreakpoint, ToggleBreakpoint, GetBreakpoint.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct BreakpointRefIn {
    #[serde(rename = "Id")]
    pub id: i64,
    #[serde(rename = "Name")]
    pub name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AmendBreakpointIn {
    #[serde(rename = "Breakpoint")]
    pub breakpoint: Breakpoint,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ExamineMemoryIn {
    #[serde(rename = "Address")]
    pub address: u64,
    #[serde(rename = "Length")]
    pub length: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DisassembleIn {
    #[serde(rename = "Scope")]
    pub scope: EvalScope,
    #[serde(rename = "StartPC")]
    pub start_pc: u64,
    #[serde(rename = "EndPC")]
    pub end_pc: u64,
    #[serde(rename = "Flavour")]
    pub flavour: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct GetThreadIn {
    #[serde(rename = "Id")]
    pub id: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_nulls_read_as_empty() {
        // What Delve 1.20's client sends for `break main.f`.
        let b: CreateBreakpointIn = serde_json::from_str(
            r#"{"Breakpoint":{"id":0,"name":"","addr":4893348,"addrs":null,"addrpid":null,"file":"","line":0,"Cond":"","HitCond":"","HitCondPerG":false,"continue":false,"traceReturn":false,"goroutine":false,"stacktrace":0,"LoadArgs":null,"LoadLocals":null,"WatchExpr":"","WatchType":0,"hitCount":null,"totalHitCount":0,"disabled":false},"LocExpr":"main.f","SubstitutePathRules":null,"Suspended":false}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(b.breakpoint.addr, 4893348);
        assert!(b.breakpoint.addrs.is_empty() && b.breakpoint.hit_count.is_empty());
        assert_eq!(b.loc_expr, "main.f");
    }
}
