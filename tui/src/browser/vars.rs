//! The variables pane: arguments and locals of one frame as a tree whose children are
//! loaded only when the user expands a node. Values come from the engine's
//! [`coroner::vars`] loader and are formatted by its `singleline`, so a node reads
//! exactly as `locals`/`args` print it.

use coroner::target::Target;
use coroner::unwind::Frame;
use coroner::vars::load::Loader;
use coroner::vars::location::Overlay;
use coroner::vars::{format, Kind, LoadConfig, Var, VarError};

/// What one expansion loads: the node's children with their one-line summaries.
const EXPAND: LoadConfig = LoadConfig {
    follow_pointers: true,
    max_variable_recurse: 1,
    max_string_len: 256,
    max_array_values: 64,
    max_struct_fields: -1,
};

/// One value in the tree.
#[derive(Debug, Clone)]
pub struct Node {
    pub var: Var,
    /// What the row shows before ` = `: a name, `[3]`, `*p`, `["key"]`.
    pub label: String,
    pub depth: usize,
    pub expanded: bool,
    /// Node ids, once loaded.
    pub children: Option<Vec<usize>>,
    /// A note row ("... 10 more"), not a value.
    pub note: bool,
}

impl Node {
    /// Whether expanding could show anything.
    pub fn expandable(&self) -> bool {
        let v = &self.var;
        if self.note || !v.unreadable.is_empty() || v.type_id.is_none() {
            return false;
        }
        match v.kind {
            Kind::Struct => v.len > 0,
            Kind::Ptr => v.children.first().is_none_or(|c| c.addr != 0),
            Kind::Slice | Kind::Array | Kind::Map => v.len > 0,
            Kind::Interface => v.value != "nil" && !(v.addr == 0 && v.base == 0),
            Kind::Chan => v.base != 0 || !v.children.is_empty(),
            _ => false,
        }
    }

    /// The row text after the tree marker.
    pub fn text(&self) -> String {
        if self.note {
            return self.label.clone();
        }
        format!("{} = {}", self.label, format::singleline(&self.var))
    }
}

/// The variables of one frame.
#[derive(Debug, Clone, Default)]
pub struct VarTree {
    pub nodes: Vec<Node>,
    pub roots: Vec<usize>,
    /// Why there are no variables (no DWARF, no function, ...).
    pub error: Option<String>,
    frame: Option<(Frame, usize)>,
}

impl VarTree {
    /// Args and locals of `frame` (number `frame_no` in its stack), summaries loaded.
    pub fn for_frame(t: &Target, frame: &Frame, frame_no: usize) -> VarTree {
        let mut tree = VarTree {
            frame: Some((frame.clone(), frame_no)),
            ..Default::default()
        };
        let Some(dwarf) = t.dwarf() else {
            tree.error = Some(VarError::NoDwarf.to_string());
            return tree;
        };
        let mut overlay = Overlay::new(t.memory());
        let vars = match frame_vars(t, frame, frame_no, &mut overlay) {
            Ok(v) => v,
            Err(e) => {
                tree.error = Some(e.to_string());
                return tree;
            }
        };
        let loader = Loader::for_target(t, dwarf, &overlay);
        // Arguments first, as Delve's `args` then `locals`.
        let (args, locals): (Vec<Var>, Vec<Var>) = vars.into_iter().partition(|v| v.is_arg);
        for mut v in args.into_iter().chain(locals) {
            if v.unreadable.is_empty() {
                loader.load(&mut v, 0, &LoadConfig::SHORT);
            }
            let label = v.name.clone();
            let id = tree.push(v, label, 0);
            tree.roots.push(id);
        }
        tree
    }

    fn push(&mut self, var: Var, label: String, depth: usize) -> usize {
        self.nodes.push(Node {
            var,
            label,
            depth,
            expanded: false,
            children: None,
            note: false,
        });
        self.nodes.len() - 1
    }

    /// Node ids in display order (expanded subtrees inline).
    pub fn visible(&self) -> Vec<usize> {
        let mut out = Vec::new();
        let mut stack: Vec<usize> = self.roots.iter().rev().copied().collect();
        while let Some(id) = stack.pop() {
            out.push(id);
            if let Some(n) = self.nodes.get(id) {
                if n.expanded {
                    if let Some(ch) = &n.children {
                        stack.extend(ch.iter().rev().copied());
                    }
                }
            }
        }
        out
    }

    /// Collapse node `id`; true if it was expanded.
    pub fn collapse(&mut self, id: usize) -> bool {
        match self.nodes.get_mut(id) {
            Some(n) if n.expanded => {
                n.expanded = false;
                true
            }
            _ => false,
        }
    }

    /// The parent of `id`, if any.
    pub fn parent(&self, id: usize) -> Option<usize> {
        self.nodes
            .iter()
            .position(|n| n.children.as_ref().is_some_and(|c| c.contains(&id)))
    }

    /// Expand node `id`, loading its children on first use.
    pub fn expand(&mut self, t: &Target, id: usize) {
        let Some(node) = self.nodes.get(id) else {
            return;
        };
        if !node.expandable() {
            return;
        }
        if node.children.is_some() {
            if let Some(n) = self.nodes.get_mut(id) {
                n.expanded = true;
            }
            return;
        }
        let children = self.load_children(t, &node.var, &node.label);
        let depth = node.depth + 1;
        let mut ids = Vec::new();
        for (label, v, note) in children {
            let cid = self.push(v, label, depth);
            if let Some(n) = self.nodes.get_mut(cid) {
                n.note = note;
            }
            ids.push(cid);
        }
        if let Some(n) = self.nodes.get_mut(id) {
            n.children = Some(ids);
            n.expanded = true;
        }
    }

    /// Load `v` one level deeper and label its children.
    fn load_children(&self, t: &Target, v: &Var, label: &str) -> Vec<(String, Var, bool)> {
        let (Some(dwarf), Some((frame, frame_no)), Some(ty)) = (t.dwarf(), &self.frame, v.type_id)
        else {
            return Vec::new();
        };
        // Register-held values live at synthetic addresses of the frame's overlay;
        // rebuilding it gives the same addresses (the same values in the same order).
        let mut overlay = Overlay::new(t.memory());
        let _ = frame_vars(t, frame, *frame_no, &mut overlay);
        let loader = Loader::for_target(t, dwarf, &overlay);
        let mut fresh = loader.var_at(&v.name, v.addr, ty);
        fresh.is_arg = v.is_arg;
        loader.load(&mut fresh, 0, &EXPAND);
        if !fresh.unreadable.is_empty() {
            return vec![(format!("({})", fresh.unreadable), Var::default(), true)];
        }
        let mut out = Vec::new();
        match fresh.kind {
            Kind::Map => {
                let mut it = fresh.children.into_iter();
                while let (Some(k), Some(val)) = (it.next(), it.next()) {
                    out.push((format!("[{}]", format::singleline(&k)), val, false));
                }
            }
            Kind::Ptr => {
                for c in fresh.children {
                    out.push((format!("*{label}"), c, false));
                }
            }
            Kind::Slice | Kind::Array => {
                for (i, c) in fresh.children.into_iter().enumerate() {
                    out.push((format!("[{i}]"), c, false));
                }
            }
            _ => {
                for c in fresh.children {
                    let l = if c.name.is_empty() {
                        "data".to_string()
                    } else {
                        c.name.clone()
                    };
                    out.push((l, c, false));
                }
            }
        }
        let shown = out.len() as i64;
        let total = match fresh.kind {
            Kind::Slice | Kind::Array | Kind::Map => fresh.len,
            _ => shown,
        };
        if total > shown {
            out.push((
                format!("... +{} more (use the command bar: print)", total - shown),
                Var::default(),
                true,
            ));
        }
        out
    }
}

/// Arguments and locals of one frame, located but not loaded: the REPL's own.
pub use coroner::repl::frame_vars;

/// The address an expression designates in `frame`: a pointer's target, a string's or
/// slice's data, else the value's own address (what the memory view should show).
pub fn eval_address(t: &Target, frame: Option<(&Frame, usize)>, expr: &str) -> Result<u64, String> {
    let dwarf = t.dwarf().ok_or_else(|| VarError::NoDwarf.to_string())?;
    let mut overlay = Overlay::new(t.memory());
    let locals = match frame {
        Some((f, n)) => frame_vars(t, f, n, &mut overlay).unwrap_or_default(),
        None => Vec::new(),
    };
    let loader = Loader::for_target(t, dwarf, &overlay);
    let scope = coroner::vars::expr::Scope {
        loader: &loader,
        locals: &locals,
        package: frame.map_or("", |(f, _)| coroner::vars::expr::package_of(&f.function)),
    };
    let v = scope
        .eval(expr, &LoadConfig::SHORT)
        .map_err(|e| e.to_string())?;
    if !v.unreadable.is_empty() {
        return Err(v.unreadable);
    }
    let a = match v.kind {
        Kind::Ptr | Kind::UnsafePointer => v.children.first().map_or(0, |c| c.addr),
        Kind::String | Kind::Slice | Kind::Map | Kind::Chan => v.base,
        _ => v.addr,
    };
    if a == 0 || a >= coroner::vars::location::SYNTHETIC_BASE {
        return Err(format!(
            "{expr} has no address in memory (nil, or held in registers)"
        ));
    }
    Ok(a)
}
